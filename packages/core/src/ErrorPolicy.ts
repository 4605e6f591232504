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
import type * as Schedule from "effect/Schedule"
import type { Producer } from "./Producer.js"

/** @since 0.1.0 */
export type ErrorPolicy<E, R = never> = Stop | Skip | DeadLetter<R> | Retry<E, R> | Choose<E, R>

/** @since 0.1.0 */
export interface Stop {
  readonly _tag: "Stop"
}

/** @since 0.1.0 */
export interface Skip {
  readonly _tag: "Skip"
}

/** @since 0.1.0 */
export interface DeadLetter<R> {
  readonly _tag: "DeadLetter"
  readonly topic: string
  /** Phantom: a dead letter needs a `Producer`. */
  readonly _R?: (_: never) => R
}

/** @since 0.1.0 */
export interface Retry<E, R> {
  readonly _tag: "Retry"
  readonly schedule: Schedule.Schedule<unknown, E>
  readonly then: ErrorPolicy<E, R>
}

/** @since 0.1.0 */
export interface Choose<E, R> {
  readonly _tag: "Choose"
  readonly choose: (error: E) => ErrorPolicy<E, R>
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
 * ErrorPolicy.retry(
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
 * ErrorPolicy.byTag<DecodeError | PaymentDeclined>()({ DecodeError: ErrorPolicy.deadLetter("dlq") }, ErrorPolicy.skip)
 * ```
 *
 * @since 0.1.0
 */
export const byTag =
  <E>() =>
  <R>(cases: { readonly [K in Tagged<E>]?: ErrorPolicy<E, R> }, otherwise: ErrorPolicy<E, R>): Choose<E, R> =>
    match((error: E) => {
      const tag = (error as { readonly _tag?: unknown } | null)?._tag
      return (typeof tag === "string" ? (cases as Record<string, ErrorPolicy<E, R>>)[tag] : undefined) ?? otherwise
    })

type Tagged<E> = E extends { readonly _tag: infer T extends string } ? T : never

/**
 * Stops instead of dead-lettering everything when something is badly wrong: more than `max`
 * dead letters within `window`, or `consecutive` in a row (records of one pipeline, across
 * its partitions).
 *
 * @since 0.1.0
 */
export interface FloodLimit {
  readonly max: number
  readonly window: Duration.DurationInput
  readonly consecutive?: number | undefined
}
