/**
 * A pipeline binds a topic, a handler of its typed records, an error policy and a processing
 * mode. Several pipelines run in one consumer group (`run(p1, p2)`, `layer(p1, p2)`): each
 * record goes to the pipeline of its topic, and each partition runs in its pipeline's mode.
 *
 * @example
 * ```ts
 * import { Codec, ErrorPolicy, Pipeline, ProcessingMode, Topic } from "@sluice/core"
 * import { KafkaJs } from "@sluice/kafkajs"
 * import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
 * import * as Effect from "effect/Effect"
 * import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
 * import * as Schedule from "effect/Schedule"
 * import * as Schema from "effect/Schema"
 *
 * const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })
 * const orders = Topic.make({ name: "orders", key: Codec.string, value: Codec.json(Order) })
 *
 * const billing = Pipeline.make({
 *   topic: orders,
 *   mode: ProcessingMode.keyed({ concurrency: 16 }),
 *   handler: (record: Topic.RecordOf<typeof orders>) => Effect.log(`charging ${record.value.amount}`),
 *   policy: ErrorPolicy.retry(
 *     Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(3))),
 *     ErrorPolicy.deadLetter("orders.dlq")
 *   )
 * })
 *
 * // One layer for the consumer, the producer (dead letters) and the drivers, from KAFKA_*.
 * Pipeline.layer(billing).pipe(Layer.provide(KafkaJs.layerConfig()), Layer.launch, NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 */
import type * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Schedule from "effect/Schedule"
import * as Consumer from "./Consumer.js"
import { fromCause, type HandlerFailure } from "./ConsumerError.js"
import type { RawRecord } from "./ConsumerRecord.js"
import * as ErrorPolicy from "./ErrorPolicy.js"
import { type ChunkRunner, processChunk, type Settle } from "./internal/chunks.js"
import { describe, position } from "./internal/describe.js"
import type { Processor } from "./internal/flow.js"
import * as Metrics from "./internal/metrics.js"
import { type BatchOptions as BatchLimits, batch as batchProcessor, validBatch } from "./internal/processors/batch.js"
import { handlerProcessor } from "./internal/processors/handler.js"
import { type StallReports, StallWatch } from "./internal/stall.js"
import * as Tracing from "./internal/tracing.js"
import * as Transactional from "./internal/transactional.js"
import * as Validate from "./internal/validate.js"
import type { KafkaError } from "./KafkaError.js"
import * as ProcessingMode from "./ProcessingMode.js"
import { Producer } from "./Producer.js"
import { SettingsError } from "./SettingsError.js"
import * as StallPolicy from "./StallPolicy.js"
import * as Topic from "./Topic.js"
import type { TopicPartition } from "./TopicPartition.js"
import type { TransactionalProducerDriver, TransactionError } from "./TransactionalProducerDriver.js"

/**
 * More dead letters than the pipeline's `floodLimit` allows: the consumer stops rather than
 * dead-lettering a whole topic because of, say, a bad deploy.
 *
 * @since 0.1.0
 */
export class FloodLimitExceeded extends Data.TaggedError("FloodLimitExceeded")<{
  readonly topic: string
  readonly message: string
}> {}

/**
 * The dead-letter topic did not acknowledge the record: it is not finished, so the consumer
 * stops before its commit could pass it.
 *
 * @since 0.1.0
 */
export class DeadLetterFailed extends Data.TaggedError("DeadLetterFailed")<{
  readonly topic: string
  readonly cause: KafkaError | SettingsError
  readonly message: string
}> {}

/**
 * Why a pipeline stopped its consumer: the `stop` policy (with the handler's or decoder's
 * error), a flood limit, a dead letter that could not be written, a policy chosen by
 * `ErrorPolicy.match` that is not valid, or a stalled record whose `onStall` policy stops.
 *
 * @since 0.1.0
 */
export type PipelineError<E> =
  | E
  | Topic.DecodeError
  | FloodLimitExceeded
  | DeadLetterFailed
  | SettingsError
  | StallPolicy.RecordStalled

/**
 * What one run of a pipeline does with a record: decode, handle, settle by the policy. Fails
 * only when the policy says stop.
 *
 * @since 0.2.0
 */
export type Process<E, R> = (raw: RawRecord) => Effect.Effect<void, PipelineError<E>, R>

/**
 * What one run of a batch pipeline does with a chunk of one partition's records: decode,
 * handle, settle a failure by the policy. `finished(i)` marks `records[i]` settled before the
 * rest of the chunk. Fails only when the policy says stop.
 *
 * @since 0.2.0
 */
export type ProcessBatch<E, R> = (
  records: ReadonlyArray<RawRecord>,
  finished: (index: number) => void
) => Effect.Effect<void, PipelineError<E>, R>

/**
 * A started run of a pipeline: what it does with each record, or, for a batch pipeline, with
 * each chunk and how the chunks are cut.
 *
 * @since 0.2.0
 */
export type Started<E, R> =
  | {
      readonly _tag: "Records"
      readonly process: Process<E, R>
      /** With a `stallTimeout`: starts the run's stall watch, which `process` then guards its attempts with. */
      readonly watch?: ((groupId: string, reports: StallReports) => StallWatch) | undefined
    }
  | {
      readonly _tag: "Chunks"
      readonly process: ProcessBatch<E, R>
      readonly limits: BatchLimits
      /** With a `stallTimeout`: starts the run's stall watch, which `process` guards each chunk's attempts with. */
      readonly watch?: ((groupId: string, reports: StallReports) => StallWatch) | undefined
    }

/**
 * A pipeline: a description, run by `run` or `layer`. It holds no state of its own: each run
 * starts afresh (its own flood-limit counters), so one pipeline value can run many times.
 *
 * @since 0.1.0
 */
export interface Pipeline<E, R> extends Pipeable {
  readonly topics: ReadonlyArray<string>
  /** How the pipeline's partitions run: `ProcessingMode.partition` unless given. */
  readonly mode: ProcessingMode.ProcessingMode
  /** For a batch pipeline (`make({ batch })`): how its chunks are cut and their failures settled. */
  readonly batch: BatchOptions | undefined
  /**
   * Checks the pipeline (topic names, codecs, mode, batch, policy, flood limit) and starts one
   * run's state: a `SettingsError` for a bad setting, else what the run does with each record
   * (or chunk).
   */
  readonly start: Effect.Effect<Started<E, R>, SettingsError>
  /** Set by `exactlyOnce`: the pipeline's outputs and offsets are committed in Kafka transactions. */
  readonly exactlyOnce?: ExactlyOnceOptions | undefined
  /** @internal `start` for an exactly-once run (each handler attempt's sends kept apart). */
  readonly [startExactlyOnce]?: Effect.Effect<Started<E, R>, SettingsError> | undefined
}

const startExactlyOnce: unique symbol = Symbol.for("@sluice/core/Pipeline/startExactlyOnce")

const encoder = new TextEncoder()

/**
 * Dead-letter headers: where the record came from, why, after how many attempts.
 *
 * @since 0.1.0
 */
export const deadLetterHeaders = {
  topic: "sluice.dlq.source.topic",
  partition: "sluice.dlq.source.partition",
  offset: "sluice.dlq.source.offset",
  error: "sluice.dlq.error",
  attempts: "sluice.dlq.attempts"
} as const

/**
 * The options of `make`.
 *
 * @since 0.2.0
 */
export interface Options<K, V, H, E, R, RP, B extends BatchOptions | undefined = undefined, RS = never> {
  readonly topic: Topic.Topic<K, V, H> | ReadonlyArray<Topic.Topic<K, V, H>>
  /** What to do with a record; with `batch`, with a chunk of one partition's records. */
  readonly handler: HandlerOf<K, V, H, E, R, B>
  /** Defaults to `stop`. */
  readonly policy?: ErrorPolicy.ErrorPolicy<E | Topic.DecodeError, RP> | undefined
  readonly floodLimit?: ErrorPolicy.FloodLimit | undefined
  /** Defaults to `ProcessingMode.partition`, the only mode of a batch pipeline (one chunk at a time). */
  readonly mode?: ProcessingMode.ProcessingMode | undefined
  /** Hands the handler chunks of records instead of one record at a time (see `BatchOptions`). */
  readonly batch?: B
  /**
   * A record in flight longer than this is stalled (O3): reported as a `ConsumerEvent.Stalled`,
   * in `sluice_records_stalled` and in `Consumer.health`, then handled by `onStall`. A finite
   * positive duration; off unless given. In a batch pipeline, a chunk in flight longer than
   * this is stalled (each of its attempts is watched, as a whole or, once split, record by
   * record); in an exactly-once pipeline, a record's attempt (what an interrupted attempt sent
   * never reaches the transaction).
   */
  readonly stallTimeout?: Duration.DurationInput | undefined
  /** What a stalled record gets: `StallPolicy.report` (the default) or `StallPolicy.interrupt(policy)`. */
  readonly onStall?: StallPolicy.StallPolicy<RS> | undefined
}

/**
 * A pipeline's handler: of one record, or with `batch`, of a chunk of one partition's records
 * in offset order.
 *
 * @since 0.2.0
 */
export type HandlerOf<K, V, H, E, R, B extends BatchOptions | undefined> = B extends BatchOptions
  ? (records: Chunk.Chunk<Topic.TypedRecord<K, V, H>>) => Effect.Effect<void, E, R>
  : (record: Topic.TypedRecord<K, V, H>) => Effect.Effect<void, E, R>

/**
 * How a batch pipeline hands its records over: chunks of up to `size` records of one partition,
 * or fewer once `within` passed since the chunk's first record; and how a failed chunk is
 * settled by the pipeline's policy (`onFailure`):
 *
 * - `"record"` (the default): the chunk is split and the handler runs again on each record
 *   alone; each record that fails goes through the policy on its own (retried, dead-lettered,
 *   skipped, or stopping the consumer after committing the records before it). One bad row
 *   costs one dead letter, not the chunk's.
 * - `"chunk"`: the whole chunk goes through the policy: retried as a whole (e.g. the database
 *   was down), then dead-lettered or skipped as a whole, or stopping the consumer.
 *
 * A record that cannot be decoded is settled by the policy on its own and left out of the chunk.
 *
 * @since 0.2.0
 */
export interface BatchOptions extends Consumer.BatchOptions {
  readonly onFailure?: "record" | "chunk" | undefined
}

/** The flood limit's counters of one run: dead letters in the window and in a row. */
const floodCounter = (limit: {
  readonly max: number
  readonly window: Duration.Duration
  readonly consecutive: number | undefined
}) => {
  const windowMillis = Duration.toMillis(limit.window)
  const recent: Array<number> = []
  let consecutive = 0
  return {
    handled: () => {
      consecutive = 0
    },
    deadLettered: (topic: string): Effect.Effect<void, FloodLimitExceeded> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        while (recent.length > 0 && recent[0]! <= now - windowMillis) recent.shift()
        recent.push(now)
        consecutive++
        if (recent.length > limit.max) {
          return new FloodLimitExceeded({
            topic,
            message: `more than ${limit.max} dead letters within ${Duration.format(limit.window)}`
          })
        }
        if (limit.consecutive !== undefined && consecutive > limit.consecutive) {
          return new FloodLimitExceeded({ topic, message: `more than ${limit.consecutive} dead letters in a row` })
        }
        return Effect.void
      })
  }
}

const noFloodLimit = { handled: () => {}, deadLettered: (_topic: string) => Effect.void }

/**
 * Builds a pipeline. Pure: the options are checked when it runs.
 *
 * With `batch`, the handler takes a chunk of one partition's decoded records (see
 * `BatchOptions`): up to `size` at a time, or fewer once `within` passed, committed after the
 * chunk succeeded.
 *
 * @example
 * ```ts
 * import { Codec, ErrorPolicy, Pipeline, Topic } from "@sluice/core"
 * import * as Chunk from "effect/Chunk"
 * import * as Effect from "effect/Effect"
 * import * as Schedule from "effect/Schedule"
 * import * as Schema from "effect/Schema"
 *
 * const Click = Schema.Struct({ page: Schema.String, at: Schema.Number })
 * const clicks = Topic.make({ name: "clicks", key: Codec.string, value: Codec.json(Click) })
 * const insertRows = (rows: ReadonlyArray<typeof Click.Type>) => Effect.log(`inserting ${rows.length} rows`)
 *
 * // Bulk inserts of up to 500 rows; a row the database refuses is retried alone, then dead-lettered.
 * const sink = Pipeline.make({
 *   topic: clicks,
 *   batch: { size: 500, within: "1 second", onFailure: "record" },
 *   handler: (records) => insertRows(Chunk.toReadonlyArray(Chunk.map(records, (r) => r.value))),
 *   policy: ErrorPolicy.retry(Schedule.recurs(2), ErrorPolicy.deadLetter("clicks.dlq"))
 * })
 * ```
 *
 * @since 0.1.0
 */
export const make = <K, V, H, E, R, RP = never, B extends BatchOptions | undefined = undefined, RS = never>(
  options: Options<K, V, H, E, R, RP, B, RS>
): Pipeline<E, R | RP | RS> => {
  const topics: ReadonlyArray<Topic.Topic<K, V, H>> = Array.isArray(options.topic)
    ? (options.topic as ReadonlyArray<Topic.Topic<K, V, H>>)
    : [options.topic as Topic.Topic<K, V, H>]
  const given = options.mode
  const mode = given ?? ProcessingMode.partition
  const batch = options.batch

  const startWith = (exactly: boolean) =>
    Effect.gen(function* () {
      if (topics.length === 0) return yield* Validate.fail("topic", "a pipeline needs at least one topic, got none")
      yield* Effect.forEach(topics, (topic, i) => Topic.validate(topic, topics.length === 1 ? "topic" : `topic[${i}]`))
      yield* Validate.isFunction("handler", options.handler)
      yield* ProcessingMode.validate(mode, "mode")
      const policy = yield* ErrorPolicy.validate(options.policy ?? ErrorPolicy.stop, "policy")
      const flood =
        options.floodLimit === undefined
          ? noFloodLimit
          : floodCounter(yield* ErrorPolicy.validateFloodLimit(options.floodLimit, "floodLimit"))
      const byName = new Map(topics.map((t) => [t.name, t]))
      const settle = settler<E, R, RP>(policy, flood)
      const stall = yield* stallOf(options.stallTimeout, options.onStall, flood)
      if (batch === undefined) {
        const given = options.handler as (record: Topic.TypedRecord<K, V, H>) => Effect.Effect<void, E, R>
        // Exactly once: what a failed attempt sent is dropped, so a retry does not send it twice.
        const handler = exactly ? (record: Topic.TypedRecord<K, V, H>) => Transactional.attempt(given(record)) : given
        return {
          _tag: "Records",
          process: recordProcess(byName, handler, settle, flood.handled, stall),
          watch: stall?.bind
        } as const
      }
      if (exactly) {
        return yield* Validate.fail(
          "exactlyOnce",
          "a batch pipeline cannot be exactly-once (its chunks have no per-record outputs yet): drop batch or exactlyOnce"
        )
      }
      if (given !== undefined && given._tag !== "Partition") {
        return yield* Validate.fail(
          "mode",
          `a batch pipeline runs one chunk at a time per partition, got mode ${given._tag}: drop mode or batch`
        )
      }
      const limits = yield* validBatch(batch, "batch")
      const onFailure = yield* Validate.oneOf("batch.onFailure", batch.onFailure ?? "record", ["record", "chunk"])
      return {
        _tag: "Chunks",
        limits,
        process: processChunk<K, V, H, E, PipelineError<E>, R | RP | RS>({
          topics: byName,
          handler: options.handler as (records: Chunk.Chunk<Topic.TypedRecord<K, V, H>>) => Effect.Effect<void, E, R>,
          onFailure,
          // A rerun may meet a stall, whose settlement needs the stall policy's context.
          settle: settle as Settle<E, PipelineError<E>, R | RP | RS>,
          handled: flood.handled,
          run: stall === undefined ? undefined : chunkRunner<E, PipelineError<E>, R | RP, RS>(stall)
        }),
        watch: stall?.bind
      } as const
    })

  return {
    topics: topics.map((t) => t.name),
    mode,
    batch,
    start: startWith(false),
    [startExactlyOnce]: startWith(true),
    pipe(...args: Array<unknown>) {
      return pipeArguments(this, args as unknown as IArguments)
    }
  }
}

/** A run's flood-limit counters (or none). */
interface Flood {
  readonly handled: () => void
  readonly deadLettered: (topic: string) => Effect.Effect<void, FloodLimitExceeded>
}

/**
 * One run's settlement of failures by `policy`: retry, dead letter, skip, stop. It settles one
 * record, or a batch pipeline's chunk as a whole; `rerun` is the handler again (absent for a
 * decoding failure), whose first run already failed.
 */
const settler = <E, R, RP>(
  policy: ErrorPolicy.ErrorPolicy<E | Topic.DecodeError, RP>,
  flood: Flood
): Settle<E, PipelineError<E>, R | RP> => {
  const sendDeadLetter = (
    dlq: string,
    raws: ReadonlyArray<RawRecord>,
    error: unknown,
    attempts: number
  ): Effect.Effect<void, FloodLimitExceeded | DeadLetterFailed, RP> =>
    Effect.zipRight(
      Effect.forEach(raws, (raw) => flood.deadLettered(raw.topic), { discard: true }),
      Effect.flatMap(Producer, (producer) =>
        producer.sendRaw(
          raws.map((raw) => ({
            topic: dlq,
            key: raw.key,
            value: raw.value,
            headers: [
              ...raw.headers,
              { key: deadLetterHeaders.topic, value: encoder.encode(raw.topic) },
              { key: deadLetterHeaders.partition, value: encoder.encode(String(raw.partition)) },
              { key: deadLetterHeaders.offset, value: encoder.encode(String(raw.offset)) },
              { key: deadLetterHeaders.error, value: encoder.encode(describe(error)) },
              { key: deadLetterHeaders.attempts, value: encoder.encode(String(attempts)) }
            ]
          }))
        )
      ).pipe(
        Effect.mapError(
          (cause) =>
            new DeadLetterFailed({ topic: dlq, cause, message: `dead letter to ${dlq} failed: ${cause.message}` })
        ),
        Effect.zipRight(Metrics.countRecords(Metrics.recordsDeadLettered, raws)),
        Effect.asVoid
      )
    ) as Effect.Effect<void, FloodLimitExceeded | DeadLetterFailed, RP>

  /** Applies `p` to `error`; `attempts` counts the handler's runs so far. */
  const settle = (
    p: ErrorPolicy.ErrorPolicy<E | Topic.DecodeError, RP>,
    error: E | Topic.DecodeError,
    raws: ReadonlyArray<RawRecord>,
    rerun: Effect.Effect<void, E, R | RP> | undefined,
    attempts: { n: number }
  ): Effect.Effect<void, PipelineError<E>, R | RP> => {
    switch (p._tag) {
      case "Stop":
        return Effect.fail(error)
      case "Skip":
        return Effect.zipRight(
          Tracing.event("skip", { "exception.message": describe(error), "sluice.attempts": attempts.n }),
          Effect.zipRight(
            Effect.logWarning(`Sluice: skipped ${positions(raws)}: ${describe(error)}`),
            Metrics.countRecords(Metrics.recordsSkipped, raws)
          )
        )
      case "DeadLetter":
        return Effect.zipRight(
          Tracing.event("dead_letter", {
            "sluice.dead_letter.topic": p.topic,
            "exception.message": describe(error),
            "sluice.attempts": attempts.n
          }),
          sendDeadLetter(p.topic, raws, error, attempts.n)
        )
      case "Choose":
        // A case known in advance was checked at the start; one made up by `match` is checked now.
        return Effect.flatMap(ErrorPolicy.validate(p.choose(error), "policy.choose"), (chosen) =>
          settle(chosen, error, raws, rerun, attempts)
        )
      case "Retry": {
        if (rerun === undefined) return settle(p.then, error, raws, rerun, attempts)
        // The first attempt already failed: step the schedule (it sleeps the delay) before
        // every further attempt, and hand the last error to `then` when it is exhausted.
        const schedule = p.schedule as Schedule.Schedule<unknown, E | Topic.DecodeError>
        return Effect.flatMap(Schedule.driver(schedule), (driver) => {
          const loop = (last: E | Topic.DecodeError): Effect.Effect<void, PipelineError<E>, R | RP> =>
            Effect.matchEffect(driver.next(last), {
              onFailure: () => settle(p.then, last, raws, rerun, attempts),
              onSuccess: () =>
                Effect.zipRight(
                  Effect.zipRight(
                    Metrics.countRecords(Metrics.recordsRetried, raws),
                    Tracing.event("retry", { "sluice.attempt": attempts.n + 1, "exception.message": describe(last) })
                  ),
                  Effect.catchAll(rerun, (next) => loop(next))
                )
            })
          return loop(error)
        })
      }
    }
  }
  return (error, raws, rerun) => {
    const attempts = { n: 1 }
    const counted =
      rerun === undefined
        ? undefined
        : Effect.suspend(() => {
            attempts.n++
            return rerun
          })
    return Effect.zipRight(
      Metrics.countRecords(Metrics.recordsFailed, raws),
      settle(policy, error, raws, counted, attempts)
    )
  }
}

/** A chunk's position in logs: its first record, and how many more. */
const positions = (raws: ReadonlyArray<RawRecord>): string =>
  raws.length === 1 ? position(raws[0]!) : `${position(raws[0]!)} and ${raws.length - 1} more`

/**
 * A run's stall detection: the watch (bound to the run's group and reports when the run
 * starts) and the settlement of an interrupted attempt by the `onStall` policy.
 */
interface Stall<R> {
  current: StallWatch | undefined
  readonly bind: (groupId: string, reports: StallReports) => StallWatch
  /** Typed loosely: its failures join the pipeline's own (`PipelineError` has `RecordStalled`). */
  readonly settle: Settle<StallPolicy.RecordStalled, unknown, any>
  readonly _R?: (_: never) => R
}

/** Checks `stallTimeout` and `onStall`; `undefined` when stall detection is off. */
const stallOf = <RS>(
  timeout: Duration.DurationInput | undefined,
  onStall: StallPolicy.StallPolicy<RS> | undefined,
  flood: Flood
): Effect.Effect<Stall<RS> | undefined, SettingsError> =>
  Effect.gen(function* () {
    if (timeout === undefined) {
      if (onStall !== undefined) return yield* Validate.fail("onStall", "onStall needs a stallTimeout")
      return undefined
    }
    const millis = Duration.toMillis(yield* Validate.duration("stallTimeout", timeout))
    const policy = onStall ?? StallPolicy.report
    const tag = (policy as { readonly _tag?: unknown } | null)?._tag
    if (tag !== "Report" && tag !== "Interrupt") {
      return yield* Validate.fail(
        "onStall",
        `onStall must be StallPolicy.report or StallPolicy.interrupt(…), got ${Validate.show(policy)}`
      )
    }
    // The stall policy settles only `RecordStalled`: a decoding failure never reaches it.
    const settle =
      policy._tag === "Interrupt"
        ? settler<StallPolicy.RecordStalled, never, RS>(
            (yield* ErrorPolicy.validate(policy.policy, "onStall.policy")) as ErrorPolicy.ErrorPolicy<any, RS>,
            flood
          )
        : (error: StallPolicy.RecordStalled | Topic.DecodeError) => Effect.fail(error)
    const stall: Stall<RS> = {
      current: undefined,
      bind: (groupId, reports) => {
        stall.current = new StallWatch(millis, policy, groupId, reports)
        return stall.current
      },
      settle
    }
    return stall
  })

/**
 * A failure of one policy's settlement met inside the other's retry (a stall during a retry of
 * a failure, or a failure during a retry of a stall): carried out as a defect so that the retry
 * loop around it, which feeds every error to its schedule, does not mistake it for its own, and
 * turned back into the failure it was at the top of the record's processing.
 */
class Escaped {
  constructor(readonly error: unknown) {}
}

const carryOut = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, never, R> =>
  Effect.catchAll(effect, (error) => Effect.die(new Escaped(error)))

const recoverEscaped = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.catchSomeDefect(effect, (defect) =>
    defect instanceof Escaped ? Option.some(Effect.fail(defect.error as E)) : Option.none()
  )

/** One run's record processor: decode, handle (watched for stalls when asked), settle by the policy. */
const recordProcess =
  <K, V, H, E, F, R, RS>(
    byName: ReadonlyMap<string, Topic.Topic<K, V, H>>,
    handler: (record: Topic.TypedRecord<K, V, H>) => Effect.Effect<void, E, R>,
    settle: Settle<E, F, R>,
    handled: () => void,
    stall: Stall<RS> | undefined
  ): ((raw: RawRecord) => Effect.Effect<void, F, R | RS>) =>
  (raw) => {
    const topic = byName.get(raw.topic)
    if (topic === undefined) return Effect.void
    const decoded = Topic.decode(topic, raw)
    if (Either.isLeft(decoded)) return settle(decoded.left, [raw], undefined)
    const attempt = Effect.suspend(() => handler(decoded.right))
    const watch = stall?.current
    if (stall === undefined || watch === undefined) {
      return attempt.pipe(
        Effect.tap(handled),
        Effect.catchAll((error) => settle(error, [raw], attempt))
      )
    }
    return watched(watch, stall, [raw], attempt, settle, handled)
  }

/**
 * `attempt` (a run of the handler on `raws`: a record, or a chunk of one partition) watched for
 * stalls, its failure settled by `settle` (the pipeline's policy) and its stall by the stall
 * policy. Each policy's retries are watched too; a failure of the other kind met during them is
 * settled by its own policy (see `Escaped`). `handled` runs when the first attempt succeeds.
 */
const watched = <E, F, R, RS>(
  watch: StallWatch,
  stall: Stall<RS>,
  raws: ReadonlyArray<RawRecord>,
  attempt: Effect.Effect<void, E, R>,
  settle: Settle<E, F, R>,
  handled: () => void
): Effect.Effect<void, F, R | RS> => {
  const guarded = watch.guard(raws, attempt)
  const viaStall = (error: StallPolicy.RecordStalled): Effect.Effect<void, F, R | RS> =>
    stall.settle(error, raws, rerunForStall) as Effect.Effect<void, F, R | RS>
  const viaPolicy = (error: E): Effect.Effect<void, F, R | RS> => settle(error, raws, rerunForPolicy)
  const rerunForPolicy: Effect.Effect<void, E, R> = Effect.catchIf(guarded, isStalled, (error) =>
    carryOut(viaStall(error))
  ) as Effect.Effect<void, E, R>
  const rerunForStall: Effect.Effect<void, StallPolicy.RecordStalled, R> = Effect.catchAll(guarded, (error) =>
    isStalled(error) ? Effect.fail(error) : carryOut(viaPolicy(error as E))
  ) as Effect.Effect<void, StallPolicy.RecordStalled, R>
  return recoverEscaped(
    guarded.pipe(
      Effect.tap(handled),
      Effect.catchAll((error) => (isStalled(error) ? viaStall(error) : viaPolicy(error as E)))
    )
  )
}

const isStalled = (error: unknown): error is StallPolicy.RecordStalled => error instanceof StallPolicy.RecordStalled

/**
 * How a batch pipeline with a `stallTimeout` runs its chunks' attempts: watched as a whole; once
 * `onFailure: "record"` split a chunk (a failure, or a stall the policy interrupted), each
 * record's attempts are watched alone.
 */
const chunkRunner = <E, F, R, RS>(stall: Stall<RS>): ChunkRunner<E, F, R | RS> => ({
  guard: (raws, attempt) => {
    const watch = stall.current
    return watch === undefined ? attempt : watch.guard(raws, attempt)
  },
  settled: (raws, attempt, settle) => {
    const watch = stall.current
    return watch === undefined
      ? Effect.catchAll(attempt, (error) => settle(error, raws, attempt))
      : watched(watch, stall, raws, attempt, settle, () => {})
  }
})

/**
 * The options of `exactlyOnce`.
 *
 * @since 0.3.0
 */
export interface ExactlyOnceOptions {
  /** Records of a partition per transaction at most: a positive integer (default 500). */
  readonly size?: number | undefined
  /** How long a partition's transaction collects records before it commits: a positive duration (default 100 ms). */
  readonly within?: Duration.DurationInput | undefined
  /**
   * The start of the transactional ids (default `"sluice"`): partition p of topic t in group g
   * commits as `<prefix>-<g>-<t>-<p>`. Two applications must not share a prefix and a group.
   */
  readonly transactionalIdPrefix?: string | undefined
}

/**
 * Makes a pipeline exactly-once (G10): what its handler sends with the `Producer` (and its
 * dead letters) is committed with the consumed offsets in one Kafka transaction per partition,
 * every `size` records or `within`. A reader with `read_committed` sees each input's outputs
 * exactly once across crashes, rebalances and restarts; a former owner of a partition (revoked,
 * or paused past its session) is fenced by its transactional id and can never commit for it.
 *
 * Inside the handler, `Producer.send` keeps the records for the transaction and answers with
 * offset -1 (they are not written until it commits); what a failed attempt sent is dropped. Works
 * in every processing mode (the transaction commits the frontier, with the finished offsets above
 * it in the offset metadata); a batch pipeline is refused with a `SettingsError`. Needs a
 * `TransactionalProducerDriver` (e.g. `KafkaJsTransactional.layer`) instead of the `Producer`.
 *
 * @example
 * ```ts
 * import { Codec, Pipeline, Producer, Topic } from "@sluice/core"
 * import * as Effect from "effect/Effect"
 *
 * const orders = Topic.make({ name: "orders", key: Codec.string, value: Codec.string })
 * const enriched = Topic.make({ name: "orders.enriched", key: Codec.string, value: Codec.string })
 *
 * const enrich = Pipeline.make({
 *   topic: orders,
 *   handler: (record) =>
 *     Effect.flatMap(Producer.Producer, (producer) =>
 *       producer.send(enriched, [{ key: record.key, value: record.value.toUpperCase() }])
 *     )
 * }).pipe(Pipeline.exactlyOnce({ size: 1000, within: "200 millis" }))
 * ```
 *
 * @since 0.3.0
 */
export const exactlyOnce: {
  (
    options?: ExactlyOnceOptions
  ): <E, R>(self: Pipeline<E, R>) => Pipeline<E, Exclude<R, Producer> | TransactionalProducerDriver>
  <E, R>(
    self: Pipeline<E, R>,
    options?: ExactlyOnceOptions
  ): Pipeline<E, Exclude<R, Producer> | TransactionalProducerDriver>
} = dual(
  (args) => typeof args[0] === "object" && args[0] !== null && "start" in args[0],
  <E, R>(
    self: Pipeline<E, R>,
    options: ExactlyOnceOptions = {}
  ): Pipeline<E, Exclude<R, Producer> | TransactionalProducerDriver> =>
    ({ ...self, exactlyOnce: options }) as unknown as Pipeline<E, Exclude<R, Producer> | TransactionalProducerDriver>
)

/**
 * Checks an exactly-once pipeline's options and builds the processor of its partitions, and
 * its stall watch when it has a `stallTimeout`.
 */
const exactlyOnceProcessor = (
  pipeline: Pipeline<any, any>,
  settings: Consumer.ConsumerService["settings"]
): Effect.Effect<
  {
    readonly processor: Processor<any>
    readonly preopened: Transactional.Preopened
    readonly watch: Extract<Started<any, any>, { _tag: "Records" }>["watch"]
  },
  SettingsError
> =>
  Effect.gen(function* () {
    const options = pipeline.exactlyOnce!
    if (typeof options !== "object" || options === null) {
      return yield* Validate.fail("exactlyOnce", `exactlyOnce takes an options object, got ${Validate.show(options)}`)
    }
    const resolved: Transactional.Resolved = {
      size:
        options.size === undefined
          ? Transactional.defaults.size
          : yield* Validate.positiveInt("exactlyOnce.size", options.size, 1_000_000),
      within:
        options.within === undefined
          ? Transactional.defaults.within
          : yield* Validate.duration("exactlyOnce.within", options.within),
      transactionalIdPrefix:
        options.transactionalIdPrefix === undefined
          ? Transactional.defaults.transactionalIdPrefix
          : yield* Validate.name("exactlyOnce.transactionalIdPrefix", options.transactionalIdPrefix)
    }
    const start = pipeline[startExactlyOnce]
    if (start === undefined) {
      return yield* Validate.fail("exactlyOnce", "only a pipeline made by Pipeline.make can be exactly-once")
    }
    const started = yield* start
    if (started._tag !== "Records") {
      return yield* Validate.fail("exactlyOnce", "a batch pipeline cannot be exactly-once: drop batch or exactlyOnce")
    }
    const process = Transactional.handle(started.process)
    const inner = yield* handlerProcessor(settings, {
      topics: pipeline.topics,
      mode: pipeline.mode,
      handler: (record) => process(record.raw)
    })
    const preopened = new Transactional.Preopened(resolved, settings.groupId)
    return {
      processor: Transactional.transactional(resolved, settings.groupId, inner, preopened),
      preopened,
      watch: started.watch
    }
  })

/**
 * The error type of a pipeline.
 *
 * @since 0.1.0
 */
export type ErrorOf<P> = P extends Pipeline<infer E, infer _R> ? E : never

/**
 * The context a pipeline needs.
 *
 * @since 0.1.0
 */
export type ContextOf<P> = P extends Pipeline<infer _E, infer R> ? R : never

/**
 * What a run of `pipelines` can fail with: the `HandlerError` of the first pipeline that
 * stopped (or a `HandlerDefect`), a Kafka error, or a `SettingsError` before it starts.
 *
 * @since 0.2.0
 */
export type RunError<P extends ReadonlyArray<Pipeline<any, any>>> =
  | HandlerFailure<PipelineError<ErrorOf<P[number]>>>
  | KafkaError
  | SettingsError
  | TransactionError

/**
 * Runs pipelines in one consumer group: every record goes to the pipeline of its topic, and
 * each partition runs in its pipeline's mode. Checks every pipeline first (a bad setting, or
 * a topic in two pipelines, is a `SettingsError` before joining). Fails with the
 * `HandlerError` of the first pipeline that stopped (after committing what finished before
 * it); runs until interrupted otherwise.
 *
 * @since 0.1.0
 */
export const run = <const P extends ReadonlyArray<Pipeline<any, any>>>(
  ...pipelines: P
): Effect.Effect<never, RunError<P>, ContextOf<P[number]> | Consumer.Consumer> =>
  Effect.gen(function* () {
    if (pipelines.length === 0) return yield* Validate.fail("pipelines", "Pipeline.run needs at least one pipeline")
    const consumer = yield* Consumer.Consumer
    const routes = new Map<string, Process<any, any>>()
    /** The stall watches of the pipelines that asked for one, started with the run. */
    const watches: Array<(groupId: string, reports: StallReports) => StallWatch> = []
    const modes = new Map<string, ProcessingMode.ProcessingMode>()
    /** The batch pipelines' topics, each with its pipeline's processor. */
    const chunks = new Map<string, Processor<any>>()
    /** The exactly-once pipelines' topics, each with its pipeline's processor. */
    const transactional = new Map<string, Processor<any>>()
    /** The exactly-once pipelines' topics, each with the producers its pipeline opened ahead. */
    const preopening = new Map<string, Transactional.Preopened>()
    for (const pipeline of pipelines) {
      if (pipeline.exactlyOnce !== undefined) {
        const { preopened, processor, watch } = yield* exactlyOnceProcessor(pipeline, consumer.settings)
        if (watch !== undefined) watches.push(watch)
        for (const topic of pipeline.topics) {
          if (routes.has(topic) || chunks.has(topic) || transactional.has(topic)) {
            return yield* new SettingsError({
              setting: "pipelines",
              message: `topic ${topic} belongs to two pipelines`
            })
          }
          transactional.set(topic, processor)
          preopening.set(topic, preopened)
        }
        continue
      }
      const started = yield* pipeline.start
      // One processor per batch pipeline: it keeps its state per partition, not across them.
      const chunked =
        started._tag === "Chunks"
          ? batchProcessor(
              started.limits,
              (records, finished) =>
                Tracing.chunkSpanIfExporting(records, consumer.settings.groupId, started.process(records, finished)),
              fromCause
            )
          : undefined
      for (const topic of pipeline.topics) {
        if (routes.has(topic) || chunks.has(topic) || transactional.has(topic)) {
          return yield* new SettingsError({ setting: "pipelines", message: `topic ${topic} belongs to two pipelines` })
        }
        if (started.watch !== undefined && !watches.includes(started.watch)) watches.push(started.watch)
        if (started._tag === "Records") {
          routes.set(topic, started.process)
          modes.set(topic, pipeline.mode)
        } else {
          chunks.set(topic, chunked!)
        }
      }
    }
    // Each partition runs in its pipeline's way: a record at a time in its mode, or chunks.
    const records =
      routes.size === 0
        ? undefined
        : yield* handlerProcessor(consumer.settings, {
            topics: [...routes.keys()],
            mode: (topic) => modes.get(topic)!,
            handler: (record) => routes.get(record.topic)!(record.raw)
          })
    const groupId = consumer.settings.groupId
    // The failure paths' metrics (failed, retried, …) are tagged with the run's group.
    const processor: Processor<any> = (worker, flow) => {
      const topic = worker.topicPartition.topic
      return Effect.locally(
        (chunks.get(topic) ?? transactional.get(topic) ?? records!)(worker, flow),
        Metrics.currentGroup,
        groupId
      )
    }
    // Exactly-once partitions' producers open before the driver reads their committed offsets.
    const prepare =
      preopening.size === 0
        ? undefined
        : (partitions: ReadonlyArray<TopicPartition>) =>
            Effect.forEach(
              new Set(preopening.values()),
              (preopened) => preopened.open(partitions.filter((tp) => preopening.get(tp.topic) === preopened)),
              { concurrency: "unbounded", discard: true }
            )
    const member = consumer
      .runProcessor([...routes.keys(), ...chunks.keys(), ...transactional.keys()], undefined, processor, true, prepare)
      .pipe(Effect.ensuring(Effect.forEach(new Set(preopening.values()), (p) => p.close, { discard: true })))
    if (watches.length === 0) return yield* member
    const reports: StallReports = { stalled: consumer.reportStall, cleared: consumer.clearStall }
    return yield* Effect.scoped(
      Effect.zipRight(
        Effect.forEach(watches, (bind) => Effect.forkScoped(bind(groupId, reports).watching), { discard: true }),
        member
      )
    )
  }) as Effect.Effect<never, RunError<P>, ContextOf<P[number]> | Consumer.Consumer>

/**
 * `run` as a layer, for `Layer.launch` or beside a program's other layers. Building it runs
 * the pipelines, so it never completes: it fails as `run` fails, and stops (drain, commit,
 * leave) when its scope closes.
 *
 * @example
 * ```ts
 * import { Pipeline, Topic } from "@sluice/core"
 * import { KafkaJs } from "@sluice/kafkajs"
 * import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
 * import * as Effect from "effect/Effect"
 * import * as Layer from "effect/Layer"
 *
 * const audit = Pipeline.make({ topic: Topic.make({ name: "audit" }), handler: (r) => Effect.log(r.offset) })
 *
 * Pipeline.layer(audit).pipe(Layer.provide(KafkaJs.layerConfig()), Layer.launch, NodeRuntime.runMain)
 * ```
 *
 * @since 0.2.0
 */
export const layer = <const P extends ReadonlyArray<Pipeline<any, any>>>(
  ...pipelines: P
): Layer.Layer<never, RunError<P>, ContextOf<P[number]> | Consumer.Consumer> => Layer.effectDiscard(run(...pipelines))
