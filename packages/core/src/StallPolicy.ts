/**
 * What a pipeline does with a record that stays in flight longer than its `stallTimeout`
 * (O3): every stall raises a `ConsumerEvent.Stalled`, counts in `sluice_records_stalled`,
 * marks the partition stalled in `Consumer.health` and adds a `stalled` event to the record's
 * span; then the policy decides.
 *
 * - `report`: nothing more. The handler goes on; the partition is stalled until it ends.
 * - `interrupt(policy)`: the handler's attempt is interrupted (its finalizers run) and the
 *   record is settled by `policy`, an `ErrorPolicy` of `RecordStalled`: retried (each retry
 *   watched again), dead-lettered, skipped or stopping the consumer.
 *
 * Only the stalled record's partition (in `partition` mode) or key (in `keyed` mode) waits for
 * it; the consumer, the other partitions and the other keys go on.
 *
 * In a batch pipeline the unit is a chunk: a stalled chunk is reported by its first record, and
 * `interrupt(policy)` settles it as `batch.onFailure` settles failures (`"chunk"`: as a whole;
 * `"record"`: split, each record then watched and settled alone). In an exactly-once pipeline,
 * what an interrupted attempt sent never reaches the partition's transaction.
 *
 * @example
 * ```ts
 * import { Codec, ErrorPolicy, Pipeline, StallPolicy, Topic } from "@sluice/core"
 * import * as Effect from "effect/Effect"
 * import * as Schedule from "effect/Schedule"
 *
 * const orders = Topic.make({ name: "orders", key: Codec.string, value: Codec.string })
 *
 * // A charge that hangs for 30 seconds is interrupted, tried twice more, then dead-lettered.
 * const billing = Pipeline.make({
 *   topic: orders,
 *   handler: (record) => Effect.log(`charging ${record.value}`),
 *   stallTimeout: "30 seconds",
 *   onStall: StallPolicy.interrupt(ErrorPolicy.retry(Schedule.recurs(2), ErrorPolicy.deadLetter("orders.dlq")))
 * })
 * ```
 *
 * @since 0.2.0
 */
import * as Data from "effect/Data"
import type * as ErrorPolicy from "./ErrorPolicy.js"

/**
 * A record's attempt was interrupted because it ran longer than its pipeline's `stallTimeout`.
 *
 * @since 0.2.0
 */
export class RecordStalled extends Data.TaggedError("RecordStalled")<{
  readonly topic: string
  readonly partition: number
  readonly offset: number
  /** How long the attempt had run when it was interrupted. */
  readonly millis: number
  readonly message: string
}> {}

/**
 * Report the stall and let the handler go on.
 *
 * @since 0.2.0
 */
export interface Report {
  readonly _tag: "Report"
}

/**
 * Interrupt the stalled attempt and settle the record by `policy`.
 *
 * @since 0.2.0
 */
export interface Interrupt<R> {
  readonly _tag: "Interrupt"
  readonly policy: ErrorPolicy.ErrorPolicy<RecordStalled, R>
}

/**
 * What a pipeline does with a stalled record; `R` is what its policy needs (a dead letter
 * needs a `Producer`).
 *
 * @since 0.2.0
 */
export type StallPolicy<R = never> = Report | Interrupt<R>

/**
 * Report only: the event, the metric, the health and the span event; the handler goes on.
 *
 * @since 0.2.0
 */
export const report: Report = { _tag: "Report" }

/**
 * Interrupt the stalled attempt, then settle the record by `policy` (`ErrorPolicy.retry` to
 * try again, `deadLetter`, `skip`, or `stop`).
 *
 * @since 0.2.0
 */
export const interrupt = <R = never>(policy: ErrorPolicy.ErrorPolicy<RecordStalled, R>): Interrupt<R> => ({
  _tag: "Interrupt",
  policy
})
