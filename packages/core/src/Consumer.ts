/**
 * The consumer: joins a group through a `ConsumerDriver` and runs one scoped worker fiber
 * per assigned partition. Offsets are committed only after the work before them succeeded;
 * revoking a partition interrupts and cleans up its in-flight work before it leaves.
 *
 * @example
 * ```ts
 * import { Consumer, ConsumerSettings } from "@sluice/core"
 * import { KafkaJsDriver } from "@sluice/kafkajs"
 *
 * const program = Consumer.run({
 *   topics: ["orders"],
 *   handler: (record) => Effect.log(`order ${record.offset}`)
 * })
 *
 * program.pipe(
 *   Effect.provide(Consumer.layer({ groupId: "billing" })),
 *   Effect.provide(KafkaJsDriver.layerConfig()),
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as CommittableRecord from "./CommittableRecord.js"
import { ConsumerDriver, type Subscription } from "./ConsumerDriver.js"
import { HandlerError } from "./ConsumerError.js"
import type { ConsumerEvent } from "./ConsumerEvent.js"
import type * as ConsumerRecord from "./ConsumerRecord.js"
import * as ConsumerSettings from "./ConsumerSettings.js"
import { Engine } from "./internal/engine.js"
import type { Processor } from "./internal/flow.js"
import { handlerProcessor } from "./internal/processors/handler.js"
import { stream } from "./internal/processors/stream.js"
import type { KafkaError } from "./KafkaError.js"
import type * as ProcessingMode from "./ProcessingMode.js"
import type { TopicPartition } from "./TopicPartition.js"

export { HandlerError }

/**
 * A handler: what to do with one record. It succeeds (the record is finished and may be
 * committed) or fails (the consumer stops after committing what finished before it).
 *
 * @since 0.1.0
 */
export type Handler<E, R> = (record: ConsumerRecord.ConsumerRecord) => Effect.Effect<void, E, R>

/** @since 0.1.0 */
export interface RunOptions<E, R> {
  readonly topics: ReadonlyArray<string>
  readonly handler: Handler<E, R>
  /** Overrides the settings' `groupId` for this run. */
  readonly groupId?: string | undefined
  /** `partition` (default), `keyed({ concurrency })` or `unordered({ concurrency })`. */
  readonly mode?: ProcessingMode.ProcessingMode | undefined
}

/** @since 0.1.0 */
export interface PartitionedStreamOptions {
  readonly topics: ReadonlyArray<string>
  readonly groupId?: string | undefined
}

/**
 * One assigned partition in the per-partition stream API: its records as a stream that ends
 * when the partition is revoked.
 *
 * @since 0.1.0
 */
export interface PartitionStream {
  readonly topicPartition: TopicPartition
  readonly records: Stream.Stream<CommittableRecord.CommittableRecord>
}

/** @since 0.1.0 */
export interface ConsumerService {
  readonly settings: ConsumerSettings.ConsumerSettings
  /**
   * Joins the group and handles every record of `topics` with `handler`, one at a time per
   * partition, in offset order, partitions side by side. Runs until interrupted (graceful
   * shutdown: drain, commit, leave) or until a handler fails (commit what finished, then
   * fail with `HandlerError`).
   */
  readonly run: <E, R>(options: RunOptions<E, R>) => Effect.Effect<never, HandlerError<E> | KafkaError, R>
  /**
   * The per-partition stream API: a stream of assigned partitions, each with a stream of its
   * records that ends when the partition is revoked. Records count as finished when their
   * offsets are committed (`commit`, `CommittableRecord.commitBatches`); revocation waits
   * for those commits up to the drain timeout, then commits the final frontier.
   */
  readonly partitionedStream: (options: PartitionedStreamOptions) => Stream.Stream<PartitionStream, KafkaError>
  /** Commits offsets from the per-partition stream API; stale ones (revoked partition) are ignored. */
  readonly commit: (batch: CommittableRecord.CommittableOffsetBatch) => Effect.Effect<void>
  /** Assignment, revocation, commit and backpressure events of every run of this consumer. */
  readonly events: Stream.Stream<ConsumerEvent>
  /** Subscribes to the events now (a stream subscribes only when it starts). */
  readonly subscribeEvents: Effect.Effect<Queue.Dequeue<ConsumerEvent>, never, Scope.Scope>
}

/**
 * The consumer as a service.
 *
 * @since 0.1.0
 */
export class Consumer extends Context.Tag("@sluice/core/Consumer")<Consumer, ConsumerService>() {}

const subscription = (
  settings: ConsumerSettings.ConsumerSettings,
  topics: ReadonlyArray<string>,
  groupId: string | undefined
): Subscription => ({
  groupId: groupId ?? settings.groupId,
  topics,
  startFrom: settings.startFrom,
  sessionTimeout: settings.sessionTimeout,
  rebalanceTimeout: settings.rebalanceTimeout,
  heartbeatInterval: settings.heartbeatInterval,
  maxBytesPerPartition: settings.maxBytesPerPartition,
  clientId: settings.clientId
})

/**
 * Builds a consumer from validated settings and a driver.
 *
 * @since 0.1.0
 */
export const make = (
  settings: ConsumerSettings.ConsumerSettings
): Effect.Effect<ConsumerService, never, ConsumerDriver> =>
  Effect.gen(function* () {
    const driver = yield* ConsumerDriver
    // Sliding: a slow or absent reader of diagnostics never holds the engine back.
    const events = yield* PubSub.sliding<ConsumerEvent>(4096)

    /** Runs one group member with `processor` until interrupted or until `fatal` fails. */
    const runEngine = <E, R>(
      topics: ReadonlyArray<string>,
      groupId: string | undefined,
      processor: Processor<R>
    ): Effect.Effect<never, E | KafkaError, R> =>
      Effect.gen(function* () {
        const context = yield* Effect.context<R>()
        const fatal = yield* Deferred.make<never, unknown>()
        const engine = yield* Engine.make<R>({ settings, context, events, fatal, processor })
        return yield* Effect.scoped(
          Effect.gen(function* () {
            const session = yield* driver.subscribe(subscription(settings, topics, groupId), engine.listener)
            yield* engine.setSession(session)
            // Finalizers run in reverse: the committer stops, the engine drains and commits,
            // then the session's own finalizer leaves the group and disconnects.
            yield* Effect.addFinalizer(() => engine.shutdown)
            yield* Effect.forkScoped(engine.committing)
            return yield* Effect.raceFirst(Deferred.await(fatal) as Effect.Effect<never, E>, session.failed)
          })
        )
      }).pipe(Effect.withSpan("Consumer.run", { attributes: { topics, groupId: groupId ?? settings.groupId } }))

    const run = <E, R>(options: RunOptions<E, R>): Effect.Effect<never, HandlerError<E> | KafkaError, R> =>
      runEngine<HandlerError<E>, R>(
        options.topics,
        options.groupId,
        handlerProcessor(settings, options.mode, options.handler)
      )

    const partitionedStream = (options: PartitionedStreamOptions): Stream.Stream<PartitionStream, KafkaError> =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const partitions = yield* Queue.unbounded<PartitionStream>()
          const member = yield* Effect.forkScoped(
            runEngine<never, never>(options.topics, options.groupId, stream(partitions))
          )
          // The member's failure ends the outer stream with it; the inner streams end on revocation.
          return Stream.fromQueue(partitions).pipe(Stream.interruptWhen(Fiber.join(member)))
        })
      ).pipe(Stream.withSpan("Consumer.partitionedStream"))

    const commit = (batch: CommittableRecord.CommittableOffsetBatch): Effect.Effect<void> =>
      CommittableRecord.commitBatch(batch)

    return {
      settings,
      run,
      partitionedStream,
      commit,
      events: Stream.fromPubSub(events),
      subscribeEvents: PubSub.subscribe(events)
    } satisfies ConsumerService
  })

/**
 * The consumer as a layer, from settings given in code.
 *
 * @since 0.1.0
 */
export const layer = (
  input: ConsumerSettings.Input
): Layer.Layer<Consumer, ConsumerSettings.SettingsError, ConsumerDriver> =>
  Layer.effect(Consumer, Effect.flatMap(ConsumerSettings.make(input), make))

/**
 * The consumer as a layer, from configuration (`KAFKA_GROUP_ID`, … see `ConsumerSettings.config`),
 * with `overrides` taking precedence.
 *
 * @since 0.1.0
 */
export const layerConfig = (overrides: Partial<ConsumerSettings.Input> = {}) =>
  Layer.effect(
    Consumer,
    Effect.flatMap(
      Effect.flatMap(ConsumerSettings.config, (input) => ConsumerSettings.make({ ...input, ...overrides })),
      make
    )
  )

/**
 * Runs `handler` over `topics` with the consumer in context. See `Consumer.run`.
 *
 * @since 0.1.0
 */
export const run = <E, R>(
  options: RunOptions<E, R>
): Effect.Effect<never, HandlerError<E> | KafkaError, R | Consumer> =>
  Effect.flatMap(Consumer, (consumer) => consumer.run(options))

/** @since 0.1.0 */
export const partitionedStream = (
  options: PartitionedStreamOptions
): Stream.Stream<PartitionStream, KafkaError, Consumer> =>
  Stream.unwrap(Effect.map(Consumer, (consumer) => consumer.partitionedStream(options)))

/** @since 0.1.0 */
export const events: Stream.Stream<ConsumerEvent, never, Consumer> = Stream.unwrap(
  Effect.map(Consumer, (consumer) => consumer.events)
)
