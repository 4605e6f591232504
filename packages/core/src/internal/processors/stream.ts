/**
 * The processor of the per-partition stream API (`Consumer.partitionedStream`): announces the
 * partition with a stream that takes from the worker's buffer, then lives until the revocation
 * interrupts it. Records count as finished only when the user commits their offsets
 * (`Flow.commitUpTo`), so revocation in drain mode waits for those commits.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as CommittableRecord from "../../CommittableRecord.js"
import type { PartitionStream } from "../../Consumer.js"
import * as ConsumerRecord from "../../ConsumerRecord.js"
import type { Processor } from "../flow.js"

/** At most this many records per pull: a chunk, not the whole buffer at once. */
const maxChunk = 1024

export const stream =
  (partitions: Queue.Enqueue<PartitionStream>): Processor<never> =>
  (worker, flow) =>
    Effect.suspend(() => {
      // One per worker, so that a batch's offsets are committed per partition (`commitBatch`
      // groups them by committer).
      const committer: CommittableRecord.Committer = (offsets) => flow.commitUpTo(offsets)
      const pull: Effect.Effect<
        Chunk.Chunk<CommittableRecord.CommittableRecord>,
        Option.Option<never>
      > = Effect.suspend(() => {
        const taken: Array<CommittableRecord.CommittableRecord> = []
        for (let record = flow.take(worker); record !== undefined; record = flow.take(worker)) {
          taken.push({
            record: ConsumerRecord.fromRaw(record),
            offset: CommittableRecord.makeOffset(worker.topicPartition, record.offset + 1, worker.epoch, committer)
          })
          if (taken.length >= maxChunk) break
        }
        if (taken.length > 0) {
          const chunk = Chunk.unsafeFromArray(taken)
          return flow.anyPaused ? Effect.as(flow.resume(), chunk) : Effect.succeed(chunk)
        }
        if (worker.state !== "running") return Effect.fail(Option.none())
        return Effect.zipRight(worker.waitForRecords(), pull)
      })
      return Effect.zipRight(
        Queue.offer(partitions, {
          topicPartition: worker.topicPartition,
          records: Stream.repeatEffectChunkOption(pull)
        }),
        Effect.never
      )
    })
