/**
 * A pipeline binds a topic, a handler of its typed records and an error policy. Several
 * pipelines can run in one consumer group (`run(p1, p2)`): each record goes to the pipeline
 * of its topic.
 *
 * @example
 * ```ts
 * const billing = Pipeline.make({
 *   topic: orders,
 *   handler: (record) => charge(record.value),
 *   policy: ErrorPolicy.retry(Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(3))),
 *     ErrorPolicy.deadLetter("orders.dlq"))
 * })
 * Pipeline.run(billing) // Effect<never, …, Consumer | Producer | …>
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as Consumer from "./Consumer.js"
import type { HandlerError } from "./ConsumerError.js"
import type { RawRecord } from "./ConsumerRecord.js"
import { SettingsError } from "./ConsumerSettings.js"
import type { ErrorPolicy, FloodLimit } from "./ErrorPolicy.js"
import { describe, position } from "./internal/describe.js"
import type { KafkaError } from "./KafkaError.js"
import type { ProcessingMode } from "./ProcessingMode.js"
import { Producer } from "./Producer.js"
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
  readonly cause: KafkaError
  readonly message: string
}> {}

/**
 * Why a pipeline stopped its consumer: the `stop` policy (with the handler's or decoder's
 * error), a flood limit, or a dead letter that could not be written.
 *
 * @since 0.1.0
 */
export type PipelineError<E> = E | Topic.DecodeError | FloodLimitExceeded | DeadLetterFailed

/** @since 0.1.0 */
export interface Pipeline<E, R> {
  readonly topics: ReadonlyArray<string>
  /** Decodes, handles and settles one record; fails only when the policy says stop. */
  readonly process: (raw: RawRecord) => Effect.Effect<void, PipelineError<E>, R>
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

/** Dead-letter headers: where the record came from, why, after how many attempts. */
export const deadLetterHeaders = {
  topic: "sluice.dlq.source.topic",
  partition: "sluice.dlq.source.partition",
  offset: "sluice.dlq.source.offset",
  error: "sluice.dlq.error",
  attempts: "sluice.dlq.attempts"
} as const

/**
 * Builds a pipeline.
 *
 * @since 0.1.0
 */
export const make = <K, V, H, E, R, RP = never>(options: {
  readonly topic: Topic.Topic<K, V, H> | ReadonlyArray<Topic.Topic<K, V, H>>
  readonly handler: (record: Topic.TypedRecord<K, V, H>) => Effect.Effect<void, E, R>
  /** Defaults to `stop`. */
  readonly policy?: ErrorPolicy<E | Topic.DecodeError, RP> | undefined
  readonly floodLimit?: FloodLimit | undefined
}): Pipeline<E, R | RP> => {
  const topics: ReadonlyArray<Topic.Topic<K, V, H>> = Array.isArray(options.topic)
    ? (options.topic as ReadonlyArray<Topic.Topic<K, V, H>>)
    : [options.topic as Topic.Topic<K, V, H>]
  const byName = new Map(topics.map((t) => [t.name, t]))
  const policy: ErrorPolicy<E | Topic.DecodeError, RP> = options.policy ?? { _tag: "Stop" }
  const flood = options.floodLimit
  const windowMillis = flood === undefined ? 0 : Duration.toMillis(Duration.decode(flood.window))
  const recent: Array<number> = []
  let consecutive = 0

  const checkFlood = (topic: string): Effect.Effect<void, FloodLimitExceeded> =>
    flood === undefined
      ? Effect.void
      : Effect.flatMap(Clock.currentTimeMillis, (now) => {
          while (recent.length > 0 && recent[0]! <= now - windowMillis) recent.shift()
          recent.push(now)
          consecutive++
          if (recent.length > flood.max) {
            return new FloodLimitExceeded({
              topic,
              message: `more than ${flood.max} dead letters within ${Duration.format(Duration.decode(flood.window))}`
            })
          }
          if (flood.consecutive !== undefined && consecutive > flood.consecutive) {
            return new FloodLimitExceeded({ topic, message: `more than ${flood.consecutive} dead letters in a row` })
          }
          return Effect.void
        })

  const sendDeadLetter = (
    dlq: string,
    raw: RawRecord,
    error: unknown,
    attempts: number
  ): Effect.Effect<void, FloodLimitExceeded | DeadLetterFailed, RP> =>
    Effect.zipRight(
      checkFlood(raw.topic),
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
    p: ErrorPolicy<E | Topic.DecodeError, RP>,
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
        return settle(p.choose(error), error, raw, rerun, attempts)
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

  const process = (raw: RawRecord): Effect.Effect<void, PipelineError<E>, R | RP> => {
    const topic = byName.get(raw.topic)
    if (topic === undefined) return Effect.void
    const decoded = Topic.decode(topic, raw)
    if (Either.isLeft(decoded)) return settle(policy, decoded.left, raw, undefined, { n: 1 })
    const attempts = { n: 0 }
    const attempt = Effect.suspend(() => {
      attempts.n++
      return options.handler(decoded.right)
    })
    return attempt.pipe(
      Effect.tap(() => {
        consecutive = 0
      }),
      Effect.catchAll((error) => settle(policy, error, raw, attempt, attempts))
    )
  }

  return { topics: topics.map((t) => t.name), process }
}

/** @since 0.1.0 */
export type ErrorOf<P> = P extends Pipeline<infer E, infer _R> ? E : never
/** @since 0.1.0 */
export type ContextOf<P> = P extends Pipeline<infer _E, infer R> ? R : never

/**
 * Runs pipelines in one consumer group: every record goes to the pipeline of its topic.
 * Fails with the `HandlerError` of the first pipeline that stopped (after committing what
 * finished before it).
 *
 * @since 0.1.0
 */
export const run = <const P extends ReadonlyArray<Pipeline<any, any>>>(
  ...pipelines: P
): Effect.Effect<
  never,
  HandlerError<PipelineError<ErrorOf<P[number]>>> | KafkaError | SettingsError,
  ContextOf<P[number]> | Consumer.Consumer
> => runWith({}, ...pipelines)

/**
 * `run` with options: the processing mode (`keyed`, `unordered`) and the group.
 *
 * @since 0.1.0
 */
export const runWith = <const P extends ReadonlyArray<Pipeline<any, any>>>(
  options: { readonly mode?: ProcessingMode | undefined; readonly groupId?: string | undefined },
  ...pipelines: P
): Effect.Effect<
  never,
  HandlerError<PipelineError<ErrorOf<P[number]>>> | KafkaError | SettingsError,
  ContextOf<P[number]> | Consumer.Consumer
> => {
  const routes = new Map<string, Pipeline<any, any>>()
  for (const pipeline of pipelines) {
    for (const topic of pipeline.topics) {
      if (routes.has(topic)) {
        return Effect.fail(
          new SettingsError({ setting: "pipelines", message: `topic ${topic} belongs to two pipelines` })
        )
      }
      routes.set(topic, pipeline)
    }
  }
  return Consumer.run({
    mode: options.mode,
    groupId: options.groupId,
    topics: [...routes.keys()],
    handler: (record) => routes.get(record.topic)!.process(record.raw)
  }) as never
}
