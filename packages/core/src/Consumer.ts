/**
 * The consumer: joins a group through a `ConsumerDriver` and runs one scoped worker fiber
 * per assigned partition. Offsets are committed only after the work before them succeeded;
 * revoking a partition interrupts and cleans up its in-flight work before it leaves.
 *
 * `Consumer.run` is the low-level primitive over raw records; a `Pipeline` (typed records,
 * error policies, a processing mode per pipeline) runs on it.
 *
 * @example
 * ```ts
 * import { Consumer } from "@sluice/core"
 * import { KafkaJs } from "@sluice/kafkajs"
 * import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
 * import * as Effect from "effect/Effect"
 *
 * const program = Consumer.run({
 *   topics: ["orders"],
 *   handler: (record) => Effect.log(`order ${record.offset}`)
 * })
 *
 * // KAFKA_BROKERS, KAFKA_GROUP_ID, … from the environment.
 * program.pipe(Effect.provide(KafkaJs.layerConfig()), NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 */
import type * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as CommittableRecord from "./CommittableRecord.js"
import { ConsumerDriver, type Subscription } from "./ConsumerDriver.js"
import { HandlerDefect, HandlerError, type HandlerFailure } from "./ConsumerError.js"
import { type ConsumerEvent, ConsumerEvent as ConsumerEventOf } from "./ConsumerEvent.js"
import type * as ConsumerRecord from "./ConsumerRecord.js"
import * as ConsumerSettings from "./ConsumerSettings.js"
import type * as Health from "./Health.js"
import { Engine } from "./internal/engine.js"
import type { Processor } from "./internal/flow.js"
import { HealthRegistry } from "./internal/health.js"
import { batchProcessor } from "./internal/processors/batchHandler.js"
import { handlerProcessor } from "./internal/processors/handler.js"
import { stream as streamProcessor } from "./internal/processors/stream.js"
import type { KafkaError } from "./KafkaError.js"
import { OffsetStore } from "./OffsetStore.js"
import type * as ProcessingMode from "./ProcessingMode.js"
import type * as Topic from "./Topic.js"
import type { TopicPartition } from "./TopicPartition.js"

export {
  /**
   * A handler died and the consumer stopped (see `ConsumerError.HandlerDefect`).
   *
   * @since 0.2.0
   */
  HandlerDefect,
  /**
   * A handler failed and the consumer stopped (see `ConsumerError.HandlerError`).
   *
   * @since 0.1.0
   */
  HandlerError
}

/**
 * A handler: what to do with one record. It succeeds (the record is finished and may be
 * committed) or fails (the consumer stops after committing what finished before it).
 *
 * @since 0.1.0
 */
export type Handler<E, R> = (record: ConsumerRecord.ConsumerRecord) => Effect.Effect<void, E, R>

/**
 * The options of `run`: the topics, the handler of their raw records, the processing mode.
 *
 * @since 0.1.0
 */
export interface RunOptions<E, R> {
  readonly topics: ReadonlyArray<string>
  readonly handler: Handler<E, R>
  /** Overrides the settings' `groupId` for this run. */
  readonly groupId?: string | undefined
  /**
   * `partition` (default), `keyed({ concurrency })` or `unordered({ concurrency })`; or a
   * function choosing the mode of each topic (each partition runs in its topic's mode).
   */
  readonly mode?: ProcessingMode.ProcessingMode | ((topic: string) => ProcessingMode.ProcessingMode) | undefined
}

/**
 * How many records a batch handler gets at once: up to `size` records of one partition, or
 * fewer when `within` passed since the chunk's first record.
 *
 * @since 0.2.0
 */
export interface BatchOptions {
  /** Records per chunk at most: a positive integer. */
  readonly size: number
  /** How long a chunk waits for more records after its first one: a finite positive duration. */
  readonly within: Duration.DurationInput
}

/**
 * A batch handler: what to do with a chunk of records of one partition, in offset order. It
 * succeeds (every record of the chunk is finished and may be committed) or fails (the consumer
 * stops after committing what finished before the chunk).
 *
 * @since 0.2.0
 */
export type BatchHandler<E, R> = (records: Chunk.Chunk<ConsumerRecord.ConsumerRecord>) => Effect.Effect<void, E, R>

/**
 * The options of `runBatch`: the topics, how chunks are cut, and the batch handler.
 *
 * @since 0.2.0
 */
export interface RunBatchOptions<E, R> {
  readonly topics: ReadonlyArray<string>
  readonly batch: BatchOptions
  readonly handler: BatchHandler<E, R>
  /** Overrides the settings' `groupId` for this run. */
  readonly groupId?: string | undefined
}

/**
 * Options of `stream` and `partitionedStream`.
 *
 * @since 0.2.0
 */
export interface StreamOptions {
  /** Overrides the settings' `groupId` for this stream. */
  readonly groupId?: string | undefined
  /**
   * A record that cannot be decoded: `"fail"` (the default) fails the stream with its
   * `DecodeError` and nothing is committed past it; `"skip"` logs it and commits past it.
   */
  readonly onDecodeError?: "fail" | "skip" | undefined
}

/**
 * One assigned partition of `partitionedStream`: its decoded records as a stream that ends
 * when the partition is revoked (or lost).
 *
 * @since 0.1.0
 */
export interface PartitionStream<K = Uint8Array | null, V = Uint8Array | null, H = Readonly<Record<string, string>>> {
  readonly topicPartition: TopicPartition
  readonly records: Stream.Stream<CommittableRecord.CommittableRecord<K, V, H>, Topic.DecodeError>
}

/** The topics of a stream: one, or several with the same types. */
type Topics<K, V, H> = Topic.Topic<K, V, H> | ReadonlyArray<Topic.Topic<K, V, H>>

/**
 * The consumer's operations.
 *
 * @since 0.1.0
 */
export interface ConsumerService {
  readonly settings: ConsumerSettings.ConsumerSettings
  /**
   * Joins the group and handles every record of `topics` with `handler`, one at a time per
   * partition, in offset order, partitions side by side. Runs until interrupted (graceful
   * shutdown: drain, commit, leave) or until a handler fails (commit what finished, then
   * fail with `HandlerError`, or `HandlerDefect` when it died). Bad options (topic names,
   * mode) fail it with a `SettingsError` before it joins.
   */
  readonly run: <E, R>(
    options: RunOptions<E, R>
  ) => Effect.Effect<never, HandlerFailure<E> | KafkaError | ConsumerSettings.SettingsError, R>
  /**
   * Like `run`, with a handler of chunks: up to `batch.size` records of one partition at a
   * time, or fewer once `batch.within` passed. A chunk's records are committed only after the
   * handler succeeded for the whole chunk; a failure stops the consumer with a `HandlerError`
   * naming the chunk's first record, after committing what finished before the chunk.
   */
  readonly runBatch: <E, R>(
    options: RunBatchOptions<E, R>
  ) => Effect.Effect<never, HandlerFailure<E> | KafkaError | ConsumerSettings.SettingsError, R>
  /**
   * The records of `topic`, decoded with its codecs, from every partition assigned to this
   * member (each partition in offset order). Records count as finished when their offsets are
   * committed (`offset.commit`, `CommittableRecord.commitWithin`); a revocation ends the
   * partition's records, waits for those commits up to the drain timeout, then commits the
   * final frontier.
   */
  readonly stream: <K, V, H>(
    topic: Topics<K, V, H>,
    options?: StreamOptions
  ) => Stream.Stream<
    CommittableRecord.CommittableRecord<K, V, H>,
    Topic.DecodeError | KafkaError | ConsumerSettings.SettingsError
  >
  /**
   * The per-partition stream API: a stream of assigned partitions, each with a stream of its
   * decoded records that ends when the partition is revoked. Records count as finished when
   * their offsets are committed (`offset.commit`, `CommittableRecord.commitWithin`); revocation
   * waits for those commits up to the drain timeout, then commits the final frontier.
   */
  readonly partitionedStream: <K, V, H>(
    topic: Topics<K, V, H>,
    options?: StreamOptions
  ) => Stream.Stream<PartitionStream<K, V, H>, KafkaError | ConsumerSettings.SettingsError>
  /**
   * @internal The engine under `run`, `runBatch` and `Pipeline.run`: one group member whose
   * partitions each run with `processor`, until interrupted or until a processor stops it.
   */
  readonly runProcessor: <E, R>(
    topics: ReadonlyArray<string>,
    groupId: string | undefined,
    processor: Processor<R>,
    /** Keep the positions in an `OffsetStore` when one is in the context (G10). */
    withStore?: boolean,
    /** Run for partitions about to be assigned, before their committed offsets are read (`GroupListener.prepare`). */
    prepare?: (partitions: ReadonlyArray<TopicPartition>) => Effect.Effect<void, never, R>
  ) => Effect.Effect<never, E | KafkaError, R>
  /** Commits offsets from the per-partition stream API; stale ones (revoked partition) are ignored. */
  readonly commit: (batch: CommittableRecord.CommittableOffsetBatch) => Effect.Effect<void>
  /** Assignment, revocation, commit and backpressure events of every run of this consumer. */
  readonly events: Stream.Stream<ConsumerEvent>
  /** Subscribes to the events now (a stream subscribes only when it starts). */
  readonly subscribeEvents: Effect.Effect<Queue.Dequeue<ConsumerEvent>, never, Scope.Scope>
  /**
   * The health of this consumer's group members now, with the readiness and liveness verdicts
   * under `rules` (see the `Health` module).
   */
  readonly health: (rules?: Partial<Health.Rules>) => Effect.Effect<Health.Health>
  /**
   * @internal Stall detection's report (O3): publishes `ConsumerEvent.Stalled` and marks the
   * partition stalled in the health of the group's running member.
   */
  readonly reportStall: (
    groupId: string,
    stall: {
      readonly partition: TopicPartition
      readonly offset: number
      readonly millis: number
      readonly interrupted: boolean
    }
  ) => Effect.Effect<void>
  /** @internal The partition's stalled records all ended: it is no longer stalled in the health. */
  readonly clearStall: (groupId: string, partition: TopicPartition) => Effect.Effect<void>
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
  clientId: settings.clientId,
  groupInstanceId: settings.groupInstanceId
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
    const members = new HealthRegistry()

    /**
     * Runs one group member with `processor` until interrupted or until `fatal` fails. With
     * `withStore`, an `OffsetStore` in the context keeps the positions (G10).
     */
    const runEngine = <E, R>(
      topics: ReadonlyArray<string>,
      groupId: string | undefined,
      processor: Processor<R>,
      withStore = false,
      prepare?: (partitions: ReadonlyArray<TopicPartition>) => Effect.Effect<void, never, R>
    ): Effect.Effect<never, E | KafkaError, R> =>
      Effect.gen(function* () {
        const context = yield* Effect.context<R>()
        const fatal = yield* Deferred.make<never, unknown>()
        const store = withStore ? Context.getOption(context as Context.Context<unknown>, OffsetStore) : Option.none()
        const offsetStore = Option.getOrUndefined(store)
        const member = yield* members.start(groupId ?? settings.groupId, topics, settings)
        const engine = yield* Engine.make<R>({
          settings,
          groupId: groupId ?? settings.groupId,
          context,
          events,
          fatal,
          processor,
          offsetStore,
          abandoned: (partitions) => member.abandon(partitions),
          prepare
        })
        return yield* Effect.scoped(
          Effect.gen(function* () {
            const session = yield* driver.subscribe(
              subscription(settings, topics, groupId),
              member.listener(engine.listener)
            )
            yield* engine.setSession(member.wrapSession(session))
            // Finalizers run in reverse: the committer stops, the engine drains and commits,
            // then the session's own finalizer leaves the group and disconnects.
            yield* Effect.addFinalizer(() => engine.shutdown)
            yield* Effect.forkScoped(engine.committing)
            yield* Effect.forkScoped(engine.reporting)
            return yield* Effect.raceFirst(Deferred.await(fatal) as Effect.Effect<never, E>, session.failed)
          })
        ).pipe(Effect.ensuring(members.stop(member)))
      }).pipe(Effect.withSpan("Consumer.run", { attributes: { topics, groupId: groupId ?? settings.groupId } }))

    const run = <E, R>(
      options: RunOptions<E, R>
    ): Effect.Effect<never, HandlerFailure<E> | KafkaError | ConsumerSettings.SettingsError, R> =>
      Effect.flatMap(handlerProcessor(settings, options), (processor) =>
        runEngine<HandlerFailure<E>, R>(options.topics, options.groupId, processor, true)
      )

    const runBatch = <E, R>(
      options: RunBatchOptions<E, R>
    ): Effect.Effect<never, HandlerFailure<E> | KafkaError | ConsumerSettings.SettingsError, R> =>
      Effect.flatMap(batchProcessor(options, settings.groupId), (processor) =>
        runEngine<HandlerFailure<E>, R>(options.topics, options.groupId, processor, true)
      ).pipe(Effect.withSpan("Consumer.runBatch", { attributes: { topics: options.topics } }))

    const partitionedStream = <K, V, H>(
      topic: Topics<K, V, H>,
      options: StreamOptions = {}
    ): Stream.Stream<PartitionStream<K, V, H>, KafkaError | ConsumerSettings.SettingsError> =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const topics = Array.isArray(topic)
            ? (topic as ReadonlyArray<Topic.Topic<K, V, H>>)
            : [topic as Topic.Topic<K, V, H>]
          const partitions = yield* Queue.unbounded<PartitionStream<K, V, H>>()
          const { processor, readerGone } = yield* streamProcessor(partitions, topics, options)
          const member = yield* Effect.forkScoped(
            runEngine<never, never>(
              topics.map((t) => t.name),
              options.groupId,
              processor
            )
          )
          // Runs before the member's shutdown (finalizers run in reverse): with the stream gone,
          // nothing will commit the records it had emitted, so the shutdown does not wait for them.
          yield* Effect.addFinalizer(() => readerGone)
          // The member's failure ends the outer stream with it; the inner streams end on revocation.
          return Stream.fromQueue(partitions).pipe(Stream.interruptWhen(Fiber.join(member)))
        })
      ).pipe(Stream.withSpan("Consumer.partitionedStream"))

    const stream = <K, V, H>(
      topic: Topics<K, V, H>,
      options?: StreamOptions
    ): Stream.Stream<
      CommittableRecord.CommittableRecord<K, V, H>,
      Topic.DecodeError | KafkaError | ConsumerSettings.SettingsError
    > =>
      partitionedStream(topic, options).pipe(
        Stream.flatMap((partition) => partition.records, { concurrency: "unbounded" }),
        Stream.withSpan("Consumer.stream")
      )

    const commit = (batch: CommittableRecord.CommittableOffsetBatch): Effect.Effect<void> =>
      CommittableRecord.commitBatch(batch)

    return {
      settings,
      run,
      runBatch,
      stream,
      partitionedStream,
      runProcessor: runEngine,
      commit,
      events: Stream.fromPubSub(events),
      subscribeEvents: PubSub.subscribe(events),
      health: (rules) => members.health(rules),
      reportStall: (groupId, stall) =>
        Effect.zipRight(
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Effect.sync(() => {
              for (const member of members.running) {
                if (member.groupId === groupId) member.stall(stall.partition, now - stall.millis)
              }
            })
          ),
          Effect.asVoid(PubSub.publish(events, ConsumerEventOf.Stalled(stall)))
        ),
      clearStall: (groupId, partition) =>
        Effect.sync(() => {
          for (const member of members.running) if (member.groupId === groupId) member.unstall(partition)
        })
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
 * The consumer as a layer, with its settings read from `config` (by default the environment:
 * `KAFKA_GROUP_ID`, … see `ConsumerSettings.config`). A driver's own `layerConfig` (e.g.
 * `KafkaJs.layerConfig`) provides this with the drivers.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config<ConsumerSettings.Input> = ConsumerSettings.config
): Layer.Layer<Consumer, ConsumerSettings.SettingsError | ConfigError.ConfigError, ConsumerDriver> =>
  Layer.effect(Consumer, Effect.flatMap(Effect.flatMap(config, ConsumerSettings.make), make))

/**
 * Runs `handler` over `topics` with the consumer in context. See `Consumer.run`.
 *
 * @since 0.1.0
 */
export const run = <E, R>(
  options: RunOptions<E, R>
): Effect.Effect<never, HandlerFailure<E> | KafkaError | ConsumerSettings.SettingsError, R | Consumer> =>
  Effect.flatMap(Consumer, (consumer) => consumer.run(options))

/**
 * Runs a batch handler over `topics` with the consumer in context. See `ConsumerService.runBatch`.
 *
 * @example
 * ```ts
 * import { Consumer } from "@sluice/core"
 * import * as Chunk from "effect/Chunk"
 * import * as Effect from "effect/Effect"
 *
 * // Up to 500 records of a partition per insert, or what came within 200 ms.
 * const program = Consumer.runBatch({
 *   topics: ["clicks"],
 *   batch: { size: 500, within: "200 millis" },
 *   handler: (records) => Effect.log(`inserting ${Chunk.size(records)} rows`)
 * })
 * ```
 *
 * @since 0.2.0
 */
export const runBatch = <E, R>(
  options: RunBatchOptions<E, R>
): Effect.Effect<never, HandlerFailure<E> | KafkaError | ConsumerSettings.SettingsError, R | Consumer> =>
  Effect.flatMap(Consumer, (consumer) => consumer.runBatch(options))

/**
 * The decoded records of `topic` with the consumer in context, each with the offset to commit
 * once it is processed. See `ConsumerService.stream`.
 *
 * The stream hands records out in offset order per partition and leaves concurrency to you:
 * `Stream.mapEffect(f, { concurrency: n })` runs `n` records at once and keeps their order, so
 * the offsets reach `commitWithin` in order and a commit never passes a record that has not
 * finished. Do not commit after `{ unordered: true }`: an offset commits everything before it.
 * For one-at-a-time processing per partition use `partitionedStream`; for keyed concurrency,
 * `Consumer.run` or a `Pipeline` with `ProcessingMode.keyed`.
 *
 * @example
 * ```ts
 * import { CommittableRecord, Codec, Consumer, Topic } from "@sluice/core"
 * import * as Effect from "effect/Effect"
 * import * as Schema from "effect/Schema"
 * import * as Stream from "effect/Stream"
 *
 * const Click = Schema.Struct({ page: Schema.String })
 * const clicks = Topic.make({ name: "clicks", key: Codec.string, value: Codec.json(Click) })
 *
 * const program = Consumer.stream(clicks).pipe(
 *   Stream.mapEffect((r) => Effect.log(r.record.value.page).pipe(Effect.as(r)), { concurrency: 8 }),
 *   CommittableRecord.commitWithin(500, "1 second"),
 *   Stream.runDrain
 * )
 * ```
 *
 * @since 0.2.0
 */
export const stream = <K, V, H>(
  topic: Topics<K, V, H>,
  options?: StreamOptions
): Stream.Stream<
  CommittableRecord.CommittableRecord<K, V, H>,
  Topic.DecodeError | KafkaError | ConsumerSettings.SettingsError,
  Consumer
> => Stream.unwrap(Effect.map(Consumer, (consumer) => consumer.stream(topic, options)))

/**
 * One stream per assigned partition of `topic`, with the consumer in context: each of the
 * partition's decoded records in offset order, ending when the partition is revoked. See
 * `ConsumerService.partitionedStream`.
 *
 * @example
 * ```ts
 * import { CommittableRecord, Consumer, Topic } from "@sluice/core"
 * import * as Effect from "effect/Effect"
 * import * as Stream from "effect/Stream"
 *
 * const clicks = Topic.make({ name: "clicks" })
 *
 * // Partitions side by side, each one record at a time, commits by 500 or every second.
 * const program = Consumer.partitionedStream(clicks).pipe(
 *   Stream.flatMap(
 *     (partition) =>
 *       partition.records.pipe(
 *         Stream.mapEffect((r) => Effect.log(r.record.offset).pipe(Effect.as(r))),
 *         CommittableRecord.commitWithin(500, "1 second")
 *       ),
 *     { concurrency: "unbounded" }
 *   ),
 *   Stream.runDrain
 * )
 * ```
 *
 * @since 0.1.0
 */
export const partitionedStream = <K, V, H>(
  topic: Topics<K, V, H>,
  options?: StreamOptions
): Stream.Stream<PartitionStream<K, V, H>, KafkaError | ConsumerSettings.SettingsError, Consumer> =>
  Stream.unwrap(Effect.map(Consumer, (consumer) => consumer.partitionedStream(topic, options)))

/**
 * The consumer's events (assigned, revoking, revoked, lost, committed, paused, resumed) with
 * the consumer in context.
 *
 * @since 0.1.0
 */
export const events: Stream.Stream<ConsumerEvent, never, Consumer> = Stream.unwrap(
  Effect.map(Consumer, (consumer) => consumer.events)
)

/**
 * The health of the consumer in context: its members' states, partitions and activity, and
 * whether it is ready and live under `rules` (see the `Health` module).
 *
 * @example
 * ```ts
 * import { Consumer } from "@sluice/core"
 * import * as Effect from "effect/Effect"
 *
 * const ready = Effect.map(Consumer.health(), (health) => health.ready)
 * ```
 *
 * @since 0.2.0
 */
export const health = (rules?: Partial<Health.Rules>): Effect.Effect<Health.Health, never, Consumer> =>
  Effect.flatMap(Consumer, (consumer) => consumer.health(rules))
