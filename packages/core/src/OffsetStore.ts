/**
 * The external offset store: partitions' positions kept beside the results, in the same
 * database transaction, so that a result is written exactly once (G10).
 *
 * When an `OffsetStore` is in the context of `Consumer.run`, `Consumer.runBatch` or
 * `Pipeline.run`, the engine claims each newly assigned partition from the store and starts
 * it at the stored position, not at the group's committed offset (which stays, advisory, for
 * lag monitoring). The handler writes its result and calls `save` inside one transaction: the
 * result and the new position commit together or not at all. A claim raises the partition's
 * generation in the store, and `save` under an older generation fails (`fenced`): a former
 * owner (revoked, lost, paused past its session) can no longer commit a result.
 *
 * The position is the commit frontier with the offsets finished above it, encoded as the
 * commit metadata is (`OffsetMetadata`), so keyed and unordered modes and batches are exactly
 * once as well. A store implements `claim` and `save`; `advance` computes the next position.
 *
 * @since 0.3.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as OffsetMetadata from "./OffsetMetadata.js"
import * as TP from "./TopicPartition.js"

/**
 * Why the store refused or failed:
 *
 * - `unavailable`: the store could not be reached or failed (the database is down); trying
 *   again later may succeed, and the error policy's schedule decides when.
 * - `fenced`: a later owner claimed the partition, so this owner's save is refused and its
 *   transaction must roll back; the new owner handles the record.
 * - `unclaimed`: `save` ran outside a handler of a consumer that keeps its offsets in a store,
 *   or for a record of another partition than the handler's.
 * - `alreadySaved`: every record was saved by an earlier transaction (one whose commit seemed to
 *   fail: the connection dropped during COMMIT, and the retry came): this transaction must roll
 *   back, and the records are finished. A transactional helper turns it into success.
 *
 * @since 0.3.0
 */
export type OffsetStoreErrorReason = "unavailable" | "fenced" | "unclaimed" | "alreadySaved"

/**
 * A failed store operation.
 *
 * @since 0.3.0
 */
export class OffsetStoreError extends Data.TaggedError("OffsetStoreError")<{
  readonly reason: OffsetStoreErrorReason
  readonly operation: string
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * Builds an `OffsetStoreError`; the message starts with the operation.
 *
 * @since 0.3.0
 */
export const error = (options: {
  readonly reason: OffsetStoreErrorReason
  readonly operation: string
  readonly message: string
  readonly cause?: unknown
}): OffsetStoreError =>
  new OffsetStoreError({
    reason: options.reason,
    operation: options.operation,
    message: `${options.operation}: ${options.message}`,
    ...(options.cause === undefined ? {} : { cause: options.cause })
  })

/**
 * A stored position: `offset` is the next offset to handle (the frontier), `metadata` the
 * offsets finished above it (`OffsetMetadata.encode`).
 *
 * @since 0.3.0
 */
export interface Position {
  readonly offset: number
  readonly metadata: string
}

/**
 * A partition claimed by one owner. `generation` is the fencing token: every claim raises it,
 * and a save under an older one is refused.
 *
 * @since 0.3.0
 */
export interface Claim {
  readonly groupId: string
  readonly topicPartition: TP.TopicPartition
  readonly generation: number
  /** Where the previous owner stopped; `undefined` when the store has no position yet. */
  readonly position: Position | undefined
}

/**
 * What a store implements.
 *
 * @since 0.3.0
 */
export interface Service {
  /**
   * Claims `partitions` for a new owner of `groupId`: raises their generations (fencing every
   * earlier owner) and reads their positions. Runs on its own, outside any transaction.
   */
  readonly claim: (
    groupId: string,
    partitions: ReadonlyArray<TP.TopicPartition>
  ) => Effect.Effect<ReadonlyArray<Claim>, OffsetStoreError>
  /**
   * Records `offsets` of the claimed partition as finished, in the caller's transaction:
   * reads the stored position holding the row's lock, fails `fenced` when the generation is
   * not the claim's, `alreadySaved` when every offset is finished in it already (`isSaved`),
   * and writes `advance(stored, offsets, floor)`.
   */
  readonly save: (claim: Claim, offsets: ReadonlyArray<number>, floor: number) => Effect.Effect<void, OffsetStoreError>
}

/**
 * The external offset store. Provide one (e.g. `@sluice/sql`'s `SqlOffsetStore.layer`) to a
 * consumer's run to keep its positions there.
 *
 * @since 0.3.0
 */
export class OffsetStore extends Context.Tag("@sluice/core/OffsetStore")<OffsetStore, Service>() {}

/**
 * The next position: `offsets` join the finished offsets of `stored`; the frontier moves to
 * `floor` (every offset below it is finished or does not exist) when that is further, then
 * past every finished offset that follows it without a gap.
 *
 * @since 0.3.0
 */
export const advance = (stored: Position | undefined, offsets: Iterable<number>, floor: number): Position => {
  let frontier = Math.max(stored === undefined ? 0 : stored.offset, floor)
  const finished = new Set<number>()
  if (stored !== undefined) {
    for (const offset of OffsetMetadata.decode(stored.offset, stored.metadata)) {
      if (offset >= frontier) finished.add(offset)
    }
  }
  for (const offset of offsets) if (offset >= frontier) finished.add(offset)
  while (finished.delete(frontier)) frontier++
  const above = Array.from(finished).sort((a, b) => a - b)
  return { offset: frontier, metadata: OffsetMetadata.encode(frontier, above) }
}

/**
 * Whether every one of `offsets` is finished in `stored`: below its frontier, or among the
 * offsets finished above it.
 *
 * @since 0.3.0
 */
export const isSaved = (stored: Position | undefined, offsets: ReadonlyArray<number>): boolean => {
  if (stored === undefined || offsets.length === 0) return false
  let above: Set<number> | undefined
  for (const offset of offsets) {
    if (offset < stored.offset) continue
    above ??= new Set(OffsetMetadata.decode(stored.offset, stored.metadata))
    if (!above.has(offset)) return false
  }
  return true
}

/**
 * The partition a handler runs for: its claim and the engine's frontier (every offset below it
 * is finished: its transaction committed, or its error policy settled it).
 *
 * @since 0.3.0
 */
export interface Owner {
  readonly claim: Claim
  readonly frontier: () => number | undefined
}

/**
 * Set by the engine on each partition's worker fiber (inherited by the fibers it forks) when
 * the consumer keeps its offsets in a store.
 *
 * @since 0.3.0
 */
export const currentOwner: FiberRef.FiberRef<Option.Option<Owner>> = FiberRef.unsafeMake<Option.Option<Owner>>(
  Option.none()
)

/**
 * An offset of a record: what `save` needs of it.
 *
 * @since 0.3.0
 */
export interface RecordOffset {
  readonly topic: string
  readonly partition: number
  readonly offset: number
}

/**
 * Saves the position past `records` (one record, or a chunk of one partition) in the current
 * transaction: call it inside the transaction that writes their results, after the results.
 * Fails `fenced` when another owner claimed the partition since, `unclaimed` outside a handler
 * of a consumer with a store.
 *
 * @example
 * ```ts
 * import * as OffsetStore from "@sluice/core/OffsetStore"
 * import type { ConsumerRecord } from "@sluice/core/ConsumerRecord"
 * import * as Effect from "effect/Effect"
 *
 * // Inside the database transaction that writes the record's result:
 * const handle = (record: ConsumerRecord) =>
 *   Effect.zipRight(Effect.log(`result of ${record.offset}`), OffsetStore.save(record))
 * ```
 *
 * @since 0.3.0
 */
export const save = (
  records: RecordOffset | Iterable<RecordOffset>
): Effect.Effect<void, OffsetStoreError, OffsetStore> =>
  Effect.flatMap(FiberRef.get(currentOwner), (owner) => {
    const list: ReadonlyArray<RecordOffset> = isRecordOffset(records) ? [records] : Array.from(records)
    if (Option.isNone(owner)) {
      return Effect.fail(
        error({
          reason: "unclaimed",
          operation: "OffsetStore.save",
          message: "not inside a handler of a consumer that keeps its offsets in an OffsetStore"
        })
      )
    }
    const { claim, frontier } = owner.value
    const offsets: Array<number> = []
    for (const record of list) {
      if (!TP.equals(record, claim.topicPartition)) {
        return Effect.fail(
          error({
            reason: "unclaimed",
            operation: "OffsetStore.save",
            message: `a record of ${TP.format(record)} in a handler of ${TP.format(claim.topicPartition)}`
          })
        )
      }
      offsets.push(record.offset)
    }
    if (offsets.length === 0) return Effect.void
    const lowest = Math.min(...offsets)
    // The records themselves are unfinished, so the engine's frontier is at most the lowest.
    const floor = Math.min(frontier() ?? lowest, lowest)
    return Effect.flatMap(OffsetStore, (store) => store.save(claim, offsets, floor))
  }).pipe(Effect.withSpan("OffsetStore.save"))

const isRecordOffset = (value: RecordOffset | Iterable<RecordOffset>): value is RecordOffset =>
  typeof (value as RecordOffset).offset === "number"
