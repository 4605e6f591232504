/**
 * The stream API's records and offsets (in the spirit of fs2-kafka's
 * `CommittableConsumerRecord` and `CommittableOffsetBatch`): each record of `Consumer.stream`
 * and `Consumer.partitionedStream` carries the offset to commit once it is processed; offsets
 * merge into a batch that is committed by count or by time (`commitWithin`).
 *
 * Committing an offset commits everything before it in its partition, so commit offsets in
 * the order the records came (`Stream.mapEffect` keeps it, even with `concurrency`); a commit
 * of a partition this member no longer owns is ignored.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Validate from "./internal/validate.js"
import type { SettingsError } from "./SettingsError.js"
import type { TypedRecord } from "./Topic.js"
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

/**
 * A record of the stream API, decoded with its topic's codecs, and the offset to commit once it
 * is processed.
 *
 * @example
 * ```ts
 * import { CommittableRecord } from "@sluice/core"
 * import * as Effect from "effect/Effect"
 *
 * // Handle the record, then commit its offset (and with it everything before it in its partition).
 * const handle = (r: CommittableRecord.CommittableRecord<string | null, Uint8Array | null>) =>
 *   Effect.log(r.record.key).pipe(Effect.zipRight(r.offset.commit))
 * ```
 *
 * @since 0.1.0
 */
export interface CommittableRecord<K = Uint8Array | null, V = Uint8Array | null, H = Readonly<Record<string, string>>> {
  readonly record: TypedRecord<K, V, H>
  readonly offset: CommittableOffset
}

/**
 * What `commitWithin` commits: offsets, or records (their offsets).
 *
 * @since 0.2.0
 */
export type Committable = CommittableOffset | CommittableRecord<unknown, unknown, unknown>

const offsetOf = (committable: Committable): CommittableOffset =>
  "record" in committable ? committable.offset : committable

/**
 * The highest offset per partition of a set of `CommittableOffset`s.
 *
 * @since 0.1.0
 */
export interface CommittableOffsetBatch {
  readonly offsets: ReadonlyMap<string, CommittableOffset>
}

/**
 * A batch with no offsets.
 *
 * @since 0.1.0
 */
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

/**
 * A batch of offsets: the highest per partition (and assignment).
 *
 * @since 0.1.0
 */
export const fromOffsets = (offsets: Iterable<CommittableOffset>): CommittableOffsetBatch => {
  const map = new Map<string, CommittableOffset>()
  for (const offset of offsets) {
    const key = TP.key(offset.topicPartition)
    const current = map.get(key)
    map.set(key, current === undefined ? offset : newer(current, offset))
  }
  return { offsets: map }
}

/**
 * Both batches in one: the highest offset per partition of either.
 *
 * @since 0.1.0
 */
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
 * Groups a stream of offsets (or of records) by count or time, whichever comes first, commits
 * each group and emits what it committed. The stream fails with a `SettingsError` when `count`
 * is not a positive integer or `interval` not a finite positive duration.
 *
 * @example
 * ```ts
 * import { CommittableRecord, Consumer, Topic } from "@sluice/core"
 * import * as Effect from "effect/Effect"
 * import * as Stream from "effect/Stream"
 *
 * const clicks = Topic.make({ name: "clicks" })
 * const store = (_: unknown) => Effect.void
 *
 * const program = Consumer.stream(clicks).pipe(
 *   Stream.mapEffect((r) => store(r.record.value).pipe(Effect.as(r))),
 *   CommittableRecord.commitWithin(500, "1 second"),
 *   Stream.runDrain
 * )
 * ```
 *
 * @since 0.1.0
 */
export const commitWithin =
  (count: number, interval: Duration.DurationInput) =>
  <A extends Committable, E, R>(
    self: Stream.Stream<A, E, R>
  ): Stream.Stream<CommittableOffsetBatch, E | SettingsError, R> =>
    Stream.unwrap(
      Effect.zipWith(
        Validate.positiveInt("commitWithin.count", count),
        Validate.duration("commitWithin.interval", interval),
        (size, within) =>
          self.pipe(
            Stream.groupedWithin(size, within),
            Stream.mapEffect((chunk) => {
              const batch = fromOffsets(Chunk.map(chunk, offsetOf))
              return Effect.as(commitBatch(batch), batch)
            })
          )
      )
    )
