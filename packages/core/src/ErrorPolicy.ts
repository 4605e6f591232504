/**
 * What happens to a record whose decoding or handler failed: retry it, send it to a
 * dead-letter topic, skip it, or stop the consumer. Policies compose (retry, then dead
 * letter) and can depend on the error (`match`, `byTag`).
 *
 * A record counts as finished — and a commit may pass it — only once its policy settled
 * it: handled after a retry, acknowledged by the dead-letter topic, or skipped.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Validate from "./internal/validate.js"
import type { Producer } from "./Producer.js"
import type { SettingsError } from "./SettingsError.js"

/**
 * A policy for the errors `E` of a pipeline; `R` is what it needs (a dead letter needs a
 * `Producer`).
 *
 * @since 0.1.0
 */
export type ErrorPolicy<E, R = never> = Stop | Skip | DeadLetter<R> | Retry<E, R> | Choose<E, R>

/**
 * Stop the consumer with the error.
 *
 * @since 0.1.0
 */
export interface Stop {
  readonly _tag: "Stop"
}

/**
 * Log the error and finish the record.
 *
 * @since 0.1.0
 */
export interface Skip {
  readonly _tag: "Skip"
}

/**
 * Produce the record to a dead-letter topic and finish it once acknowledged.
 *
 * @since 0.1.0
 */
export interface DeadLetter<R> {
  readonly _tag: "DeadLetter"
  /** A Kafka topic name (checked when the pipeline starts). */
  readonly topic: string
  /** Phantom: a dead letter needs a `Producer`. */
  readonly _R?: (_: never) => R
}

/**
 * Retry the handler as the schedule allows, then apply `then`.
 *
 * @since 0.1.0
 */
export interface Retry<E, R> {
  readonly _tag: "Retry"
  readonly schedule: Schedule.Schedule<unknown, E>
  readonly then: ErrorPolicy<E, R>
}

/**
 * Choose the policy from the error.
 *
 * @since 0.1.0
 */
export interface Choose<E, R> {
  readonly _tag: "Choose"
  readonly choose: (error: E) => ErrorPolicy<E, R>
  /**
   * The policies `choose` can return, when they are known in advance (`byTag`): they are
   * checked when the pipeline starts. Others are checked when chosen.
   */
  readonly cases?: ReadonlyArray<ErrorPolicy<E, R>> | undefined
}

/**
 * Fail the consumer with the error, after committing what finished before the record.
 *
 * @since 0.1.0
 */
export const stop: Stop = { _tag: "Stop" }

/**
 * Log the error, count it (`sluice_records_skipped`) and finish the record.
 *
 * @since 0.1.0
 */
export const skip: Skip = { _tag: "Skip" }

/**
 * Produce the record's original bytes to `topic`, with headers naming the source topic,
 * partition and offset, the error and the number of attempts; the record is finished when
 * the broker acknowledged the dead letter.
 *
 * @since 0.1.0
 */
export const deadLetter = (topic: string): DeadLetter<Producer> => ({ _tag: "DeadLetter", topic })

/**
 * Retry the record (its handler; a decoding failure is never retried, it would fail again)
 * as `schedule` allows, then apply `then` (by default `stop`). Only the record's partition
 * waits (in `partition` mode); the other partitions go on.
 *
 * @example
 * ```ts
 * import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
 * import * as Schedule from "effect/Schedule"
 *
 * // Five more attempts with jittered exponential back-off, then a dead letter.
 * const policy = ErrorPolicy.retry(
 *   Schedule.exponential("100 millis").pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(5))),
 *   ErrorPolicy.deadLetter("orders.dlq")
 * )
 * ```
 *
 * @since 0.1.0
 */
export const retry = <E, R = never>(
  schedule: Schedule.Schedule<unknown, E>,
  then: ErrorPolicy<E, R> = stop
): Retry<E, R> => ({ _tag: "Retry", schedule, then })

/**
 * Chooses the policy from the error.
 *
 * @since 0.1.0
 */
export const match = <E, R>(choose: (error: E) => ErrorPolicy<E, R>): Choose<E, R> => ({ _tag: "Choose", choose })

/**
 * Chooses the policy by the error's `_tag`, with a fallback.
 *
 * @example
 * ```ts
 * import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
 * import type * as Topic from "@sluice/core/Topic"
 * import * as Data from "effect/Data"
 *
 * class PaymentDeclined extends Data.TaggedError("PaymentDeclined")<{ readonly orderId: string }> {}
 *
 * // Undecodable records go to a dead-letter topic; a declined payment is skipped.
 * const policy = ErrorPolicy.byTag<Topic.DecodeError | PaymentDeclined>()(
 *   { DecodeError: ErrorPolicy.deadLetter("orders.dlq") },
 *   ErrorPolicy.skip
 * )
 * ```
 *
 * @since 0.1.0
 */
export const byTag =
  <E>() =>
  <R>(cases: { readonly [K in Tagged<E>]?: ErrorPolicy<E, R> }, otherwise: ErrorPolicy<E, R>): Choose<E, R> => {
    const byName = new Map(Object.entries(cases as Record<string, ErrorPolicy<E, R>>))
    return {
      _tag: "Choose",
      choose: (error: E) => {
        const tag = (error as { readonly _tag?: unknown } | null)?._tag
        return (typeof tag === "string" ? byName.get(tag) : undefined) ?? otherwise
      },
      cases: [...byName.values(), otherwise]
    }
  }

type Tagged<E> = E extends { readonly _tag: infer T extends string } ? T : never

/**
 * Stops instead of dead-lettering everything when something is badly wrong: more than `max`
 * dead letters within `window`, or `consecutive` in a row (records of one pipeline, across
 * its partitions, counted afresh by each run).
 *
 * @since 0.1.0
 */
export interface FloodLimit {
  /** A positive integer. */
  readonly max: number
  /** A positive duration. */
  readonly window: Duration.DurationInput
  /** A positive integer, when given. */
  readonly consecutive?: number | undefined
}

/**
 * Checks a policy and what it leads to: dead-letter topic names, retry schedules, the known
 * cases of a `Choose`. `setting` names it in the error (`"policy"` gives `"policy.topic"`,
 * `"policy.then.topic"`, …).
 *
 * @since 0.2.0
 */
export const validate = <E, R>(
  policy: ErrorPolicy<E, R>,
  setting = "policy"
): Effect.Effect<ErrorPolicy<E, R>, SettingsError> => {
  const invalid = () =>
    Validate.fail(
      setting,
      `${setting} must be ErrorPolicy.stop, skip, deadLetter(…), retry(…), match(…) or byTag(…), got ${Validate.show(policy)}`
    )
  if (typeof policy !== "object" || policy === null) return invalid()
  switch (policy._tag) {
    case "Stop":
    case "Skip":
      return Effect.succeed(policy)
    case "DeadLetter":
      return Effect.as(Validate.topicName(`${setting}.topic`, policy.topic), policy)
    case "Retry":
      return Schedule.isSchedule(policy.schedule)
        ? Effect.as(validate(policy.then, `${setting}.then`), policy)
        : Validate.fail(
            `${setting}.schedule`,
            `${setting}.schedule must be a Schedule, got ${Validate.show(policy.schedule)}`
          )
    case "Choose":
      return Effect.zipRight(
        Validate.isFunction(`${setting}.choose`, policy.choose),
        Effect.as(
          Effect.forEach(policy.cases ?? [], (p, i) => validate(p, `${setting}.cases[${i}]`), { discard: true }),
          policy
        )
      )
    default:
      return invalid()
  }
}

/**
 * Checks a flood limit: `max` and `consecutive` positive integers, `window` a positive
 * duration.
 *
 * @since 0.2.0
 */
export const validateFloodLimit = (
  limit: FloodLimit,
  setting = "floodLimit"
): Effect.Effect<
  { readonly max: number; readonly window: Duration.Duration; readonly consecutive: number | undefined },
  SettingsError
> =>
  typeof limit !== "object" || limit === null
    ? Validate.fail(setting, `${setting} must be { max, window, consecutive? }, got ${Validate.show(limit)}`)
    : Effect.all({
        max: Validate.positiveInt(`${setting}.max`, limit.max),
        window: Validate.duration(`${setting}.window`, limit.window),
        consecutive:
          limit.consecutive === undefined
            ? Effect.succeed(undefined)
            : Validate.positiveInt(`${setting}.consecutive`, limit.consecutive)
      })
