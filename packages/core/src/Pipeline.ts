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
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as Consumer from "./Consumer.js"
import type { HandlerFailure } from "./ConsumerError.js"
import type { RawRecord } from "./ConsumerRecord.js"
import * as ErrorPolicy from "./ErrorPolicy.js"
import { describe, position } from "./internal/describe.js"
import * as Validate from "./internal/validate.js"
import type { KafkaError } from "./KafkaError.js"
import * as ProcessingMode from "./ProcessingMode.js"
import { Producer } from "./Producer.js"
import { SettingsError } from "./SettingsError.js"
import * as Topic from "./Topic.js"

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
 * error), a flood limit, a dead letter that could not be written, or a policy chosen by
 * `ErrorPolicy.match` that is not valid.
 *
 * @since 0.1.0
 */
export type PipelineError<E> = E | Topic.DecodeError | FloodLimitExceeded | DeadLetterFailed | SettingsError

/**
 * What one run of a pipeline does with a record: decode, handle, settle by the policy. Fails
 * only when the policy says stop.
 *
 * @since 0.2.0
 */
export type Process<E, R> = (raw: RawRecord) => Effect.Effect<void, PipelineError<E>, R>

/**
 * A pipeline: a description, run by `run` or `layer`. It holds no state of its own: each run
 * starts afresh (its own flood-limit counters), so one pipeline value can run many times.
 *
 * @since 0.1.0
 */
export interface Pipeline<E, R> {
  readonly topics: ReadonlyArray<string>
  /** How the pipeline's partitions run: `ProcessingMode.partition` unless given. */
  readonly mode: ProcessingMode.ProcessingMode
  /**
   * Checks the pipeline (topic names, codecs, mode, policy, flood limit) and starts one run's
   * state: a `SettingsError` for a bad setting, else what the run does with each record.
   */
  readonly start: Effect.Effect<Process<E, R>, SettingsError>
}

const skipped = Metric.counter("sluice_records_skipped", {
  description: "Records skipped by policy",
  incremental: true
})
const deadLettered = Metric.counter("sluice_records_dead_lettered", {
  description: "Records sent to a dead-letter topic",
  incremental: true
})
const retried = Metric.counter("sluice_record_retries", { description: "Handler retries", incremental: true })

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
export interface Options<K, V, H, E, R, RP> {
  readonly topic: Topic.Topic<K, V, H> | ReadonlyArray<Topic.Topic<K, V, H>>
  readonly handler: (record: Topic.TypedRecord<K, V, H>) => Effect.Effect<void, E, R>
  /** Defaults to `stop`. */
  readonly policy?: ErrorPolicy.ErrorPolicy<E | Topic.DecodeError, RP> | undefined
  readonly floodLimit?: ErrorPolicy.FloodLimit | undefined
  /** Defaults to `ProcessingMode.partition`. */
  readonly mode?: ProcessingMode.ProcessingMode | undefined
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
 * @since 0.1.0
 */
export const make = <K, V, H, E, R, RP = never>(options: Options<K, V, H, E, R, RP>): Pipeline<E, R | RP> => {
  const topics: ReadonlyArray<Topic.Topic<K, V, H>> = Array.isArray(options.topic)
    ? (options.topic as ReadonlyArray<Topic.Topic<K, V, H>>)
    : [options.topic as Topic.Topic<K, V, H>]
  const mode = options.mode ?? ProcessingMode.partition

  const start = Effect.gen(function* () {
    if (topics.length === 0) return yield* Validate.fail("topic", "a pipeline needs at least one topic, got none")
    yield* Effect.forEach(topics, (topic, i) => Topic.validate(topic, topics.length === 1 ? "topic" : `topic[${i}]`))
    yield* Validate.isFunction("handler", options.handler)
    yield* ProcessingMode.validate(mode, "mode")
    const policy = yield* ErrorPolicy.validate(options.policy ?? ErrorPolicy.stop, "policy")
    const flood =
      options.floodLimit === undefined
        ? noFloodLimit
        : floodCounter(yield* ErrorPolicy.validateFloodLimit(options.floodLimit, "floodLimit"))
    return processor(new Map(topics.map((t) => [t.name, t])), options.handler, policy, flood)
  })

  return { topics: topics.map((t) => t.name), mode, start }
}

/** One run's record processor: decode, handle, settle by the policy. */
const processor = <K, V, H, E, R, RP>(
  byName: ReadonlyMap<string, Topic.Topic<K, V, H>>,
  handler: (record: Topic.TypedRecord<K, V, H>) => Effect.Effect<void, E, R>,
  policy: ErrorPolicy.ErrorPolicy<E | Topic.DecodeError, RP>,
  flood: {
    readonly handled: () => void
    readonly deadLettered: (topic: string) => Effect.Effect<void, FloodLimitExceeded>
  }
): Process<E, R | RP> => {
  const sendDeadLetter = (
    dlq: string,
    raw: RawRecord,
    error: unknown,
    attempts: number
  ): Effect.Effect<void, FloodLimitExceeded | DeadLetterFailed, RP> =>
    Effect.zipRight(
      flood.deadLettered(raw.topic),
      Effect.flatMap(Producer, (producer) =>
        producer.sendRaw([
          {
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
          }
        ])
      ).pipe(
        Effect.mapError(
          (cause) =>
            new DeadLetterFailed({ topic: dlq, cause, message: `dead letter to ${dlq} failed: ${cause.message}` })
        ),
        Effect.zipRight(deadLettered(Effect.succeed(1))),
        Effect.asVoid
      )
    ) as Effect.Effect<void, FloodLimitExceeded | DeadLetterFailed, RP>

  /** Applies `p` to `error`; `rerun` is the handler again (absent for a decoding failure). */
  const settle = (
    p: ErrorPolicy.ErrorPolicy<E | Topic.DecodeError, RP>,
    error: E | Topic.DecodeError,
    raw: RawRecord,
    rerun: Effect.Effect<void, E, R> | undefined,
    attempts: { n: number }
  ): Effect.Effect<void, PipelineError<E>, R | RP> => {
    switch (p._tag) {
      case "Stop":
        return Effect.fail(error)
      case "Skip":
        return Effect.zipRight(
          Effect.logWarning(`Sluice: skipped ${position(raw)}: ${describe(error)}`),
          Effect.asVoid(skipped(Effect.succeed(1)))
        )
      case "DeadLetter":
        return sendDeadLetter(p.topic, raw, error, attempts.n)
      case "Choose":
        // A case known in advance was checked at the start; one made up by `match` is checked now.
        return Effect.flatMap(ErrorPolicy.validate(p.choose(error), "policy.choose"), (chosen) =>
          settle(chosen, error, raw, rerun, attempts)
        )
      case "Retry": {
        if (rerun === undefined) return settle(p.then, error, raw, rerun, attempts)
        // The first attempt already failed: step the schedule (it sleeps the delay) before
        // every further attempt, and hand the last error to `then` when it is exhausted.
        const schedule = p.schedule as Schedule.Schedule<unknown, E | Topic.DecodeError>
        return Effect.flatMap(Schedule.driver(schedule), (driver) => {
          const loop = (last: E | Topic.DecodeError): Effect.Effect<void, PipelineError<E>, R | RP> =>
            Effect.matchEffect(driver.next(last), {
              onFailure: () => settle(p.then, last, raw, rerun, attempts),
              onSuccess: () =>
                Effect.zipRight(
                  retried(Effect.succeed(1)),
                  Effect.catchAll(rerun, (next) => loop(next))
                )
            })
          return loop(error)
        })
      }
    }
  }

  return (raw) => {
    const topic = byName.get(raw.topic)
    if (topic === undefined) return Effect.void
    const decoded = Topic.decode(topic, raw)
    if (Either.isLeft(decoded)) return settle(policy, decoded.left, raw, undefined, { n: 1 })
    const attempts = { n: 0 }
    const attempt = Effect.suspend(() => {
      attempts.n++
      return handler(decoded.right)
    })
    return attempt.pipe(
      Effect.tap(flood.handled),
      Effect.catchAll((error) => settle(policy, error, raw, attempt, attempts))
    )
  }
}

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
    const routes = new Map<string, Process<any, any>>()
    const modes = new Map<string, ProcessingMode.ProcessingMode>()
    for (const pipeline of pipelines) {
      const process = yield* pipeline.start
      for (const topic of pipeline.topics) {
        if (routes.has(topic)) {
          return yield* new SettingsError({ setting: "pipelines", message: `topic ${topic} belongs to two pipelines` })
        }
        routes.set(topic, process)
        modes.set(topic, pipeline.mode)
      }
    }
    return yield* Consumer.run({
      topics: [...routes.keys()],
      mode: (topic) => modes.get(topic)!,
      handler: (record) => routes.get(record.topic)!(record.raw)
    })
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
