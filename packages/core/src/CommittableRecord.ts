/**
 * The per-partition stream API's records and offsets (in the spirit of fs2-kafka's
 * `CommittableConsumerRecord` and `CommittableOffsetBatch`): each record carries the offset
 * to commit once it is processed; offsets merge into a batch that is committed by count or
 * by time.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { ConsumerRecord } from "./ConsumerRecord.js"
import * as TP from "./TopicPartition.js"

/**
 * The offset to commit after a record: its offset + 1, tied to the assignment it came from
 * (`epoch`), so an offset from before a revocation is never committed after it.
 *
 * @since 0.1.0
 */
export interface CommittableOffset {
  readonly topicPartition: TP.TopicPartition
  /** The next offset to consume: the record's offset + 1. */
  readonly offset: number
  readonly epoch: number
  /** Commits this offset (and, with it, everything before it in its partition). */
  readonly commit: Effect.Effect<void>
  /** @internal the engine that owns the partition */
  readonly committer: Committer
}

/** @internal */
export type Committer = (
  offsets: ReadonlyArray<{ readonly tp: TP.TopicPartition; readonly offset: number; readonly epoch: number }>
) => Effect.Effect<void>

/** @since 0.1.0 */
export interface CommittableRecord<K = Uint8Array | null, V = Uint8Array | null> {
  readonly record: ConsumerRecord<K, V>
  readonly offset: CommittableOffset
}

/**
 * The highest offset per partition of a set of `CommittableOffset`s.
 *
 * @since 0.1.0
 */
export interface CommittableOffsetBatch {
  readonly offsets: ReadonlyMap<string, CommittableOffset>
}

/** @since 0.1.0 */
export const emptyBatch: CommittableOffsetBatch = { offsets: new Map() }

/** @internal */
export const makeOffset = (
  topicPartition: TP.TopicPartition,
  offset: number,
  epoch: number,
  committer: Committer
): CommittableOffset => ({
  topicPartition,
  offset,
  epoch,
  committer,
  get commit() {
    return committer([{ tp: topicPartition, offset, epoch }])
  }
})

const newer = (a: CommittableOffset, b: CommittableOffset): CommittableOffset =>
  b.epoch > a.epoch || (b.epoch === a.epoch && b.offset > a.offset) ? b : a

/**
 * Adds an offset to a batch (keeping the highest per partition and assignment).
 *
 * @since 0.1.0
 */
export const updated = (batch: CommittableOffsetBatch, offset: CommittableOffset): CommittableOffsetBatch => {
  const key = TP.key(offset.topicPartition)
  const current = batch.offsets.get(key)
  const next = new Map(batch.offsets)
  next.set(key, current === undefined ? offset : newer(current, offset))
  return { offsets: next }
}

/** @since 0.1.0 */
export const fromOffsets = (offsets: Iterable<CommittableOffset>): CommittableOffsetBatch => {
  const map = new Map<string, CommittableOffset>()
  for (const offset of offsets) {
    const key = TP.key(offset.topicPartition)
    const current = map.get(key)
    map.set(key, current === undefined ? offset : newer(current, offset))
  }
  return { offsets: map }
}

/** @since 0.1.0 */
export const merge = (a: CommittableOffsetBatch, b: CommittableOffsetBatch): CommittableOffsetBatch =>
  fromOffsets([...a.offsets.values(), ...b.offsets.values()])

/**
 * Commits a batch. Offsets of partitions this member no longer owns are ignored.
 *
 * @since 0.1.0
 */
export const commitBatch = (batch: CommittableOffsetBatch): Effect.Effect<void> => {
  const byCommitter = new Map<Committer, Array<{ tp: TP.TopicPartition; offset: number; epoch: number }>>()
  for (const offset of batch.offsets.values()) {
    const list = byCommitter.get(offset.committer) ?? []
    list.push({ tp: offset.topicPartition, offset: offset.offset, epoch: offset.epoch })
    byCommitter.set(offset.committer, list)
  }
  return Effect.forEach(byCommitter, ([committer, offsets]) => committer(offsets), { discard: true }).pipe(
    Effect.withSpan("Consumer.commit")
  )
}

/**
 * Groups a stream of offsets by count or time, whichever comes first, and commits each group.
 *
 * @example
 * ```ts
 * partition.records.pipe(
 *   Stream.mapEffect((r) => process(r.record).pipe(Effect.as(r.offset))),
 *   CommittableRecord.commitWithin(500, "1 second"),
 *   Stream.runDrain
 * )
 * ```
 *
 * @since 0.1.0
 */
export const commitWithin =
  (count: number, interval: Duration.DurationInput) =>
  <E, R>(offsets: Stream.Stream<CommittableOffset, E, R>): Stream.Stream<void, E, R> =>
    offsets.pipe(
      Stream.groupedWithin(count, interval),
      Stream.mapEffect((chunk) => commitBatch(fromOffsets(Chunk.toReadonlyArray(chunk))))
    )
