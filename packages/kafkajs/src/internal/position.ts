/**
 * Where each owned partition's next batch must start, so that the engine sees one
 * contiguous stream per assignment even when kafkajs hands over a batch fetched before a
 * rebalance.
 *
 * kafkajs re-joins from inside one fetcher when metadata goes stale
 * (`consumerGroup.js:553-576`) while the fetchers of other brokers keep handing batches to
 * `eachBatch`; such a batch was fetched at the previous generation's position and may start
 * past (or before) where the new assignment starts. Delivering it would open a hole the
 * engine takes for compaction, and its frontier would then pass records nobody handled.
 * A batch's `fetchedOffset` (`batch.js:10-11`) tells where its fetch started, and records
 * are immutable, so a batch that starts at or before the expected offset is safe to deliver
 * from the expected offset on. One that starts past it is dropped without resolving, so
 * kafkajs fetches again from its own position; if kafkajs insists on the same offset, it
 * moved the position itself (an offset reset after OFFSET_OUT_OF_RANGE,
 * `consumerGroup.js:597-621`) and the driver follows.
 */

/** @internal */
export interface Position {
  /**
   * The next offset kafkajs should fetch: the committed offset at assignment, then one past
   * the last batch delivered. `undefined` until the first batch when the group had none.
   */
  expected: number | undefined
  /** `fetchedOffset` of the last batch dropped for not lining up. */
  rejected: number | undefined
}

/** @internal */
export type LineUp =
  /** Deliver the records at or above `from`, then resolve the batch's last record. */
  | { readonly _tag: "deliver"; readonly from: number; readonly moved: "no" | "forward" | "backward" }
  /** Deliver nothing and resolve nothing: kafkajs fetches again from where it stands. */
  | { readonly _tag: "drop" }

/** @internal */
export const make = (committed: number | undefined): Position => ({ expected: committed, rejected: undefined })

/**
 * Decides what to do with a batch fetched at `fetchedOffset` whose last offset (control
 * records included, `batch.lastOffset()`) is `lastOffset`, and advances `position` when it
 * is delivered.
 *
 * @internal
 */
export const lineUp = (position: Position, fetchedOffset: number, lastOffset: number): LineUp => {
  const expected = position.expected
  if (expected === undefined || fetchedOffset === expected) return accept(position, fetchedOffset, lastOffset, "no")
  if (fetchedOffset < expected && lastOffset >= expected) {
    // Overlaps what was delivered and reaches past it: the part from `expected` on is next.
    return accept(position, expected, lastOffset, "no")
  }
  if (position.rejected !== fetchedOffset) {
    position.rejected = fetchedOffset
    return { _tag: "drop" }
  }
  return accept(position, fetchedOffset, lastOffset, fetchedOffset > expected ? "forward" : "backward")
}

const accept = (position: Position, from: number, lastOffset: number, moved: "no" | "forward" | "backward"): LineUp => {
  position.expected = lastOffset + 1
  position.rejected = undefined
  return { _tag: "deliver", from, moved }
}

/**
 * kafkajs resolved a batch it did not hand to `eachBatch` (control records or aborted
 * transactions only, `runner.js:420-437`): its position moved to `lastOffset + 1`.
 *
 * @internal
 */
export const skipped = (position: Position, lastOffset: number): void => {
  if (position.expected !== undefined && lastOffset + 1 > position.expected) position.expected = lastOffset + 1
}
