/**
 * The processor of the stream API (`Consumer.stream`, `Consumer.partitionedStream`): announces
 * the partition with a stream of its decoded records that takes from the worker's buffer, then
 * lives until the revocation interrupts it. The stream ends when the partition leaves (what was
 * buffered is dropped). Records count as finished only when the user commits their offsets
 * (`Flow.commitUpTo`), so a revocation in drain mode waits for those commits.
 *
 * A record that cannot be decoded fails the stream with its `DecodeError` (it stays
 * unfinished: no commit passes it, G1), or with `onDecodeError: "skip"` is logged and finished
 * without being emitted.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as CommittableRecord from "../../CommittableRecord.js"
import type { StreamOptions } from "../../Consumer.js"
import type { RawRecord } from "../../ConsumerRecord.js"
import type { SettingsError } from "../../SettingsError.js"
import * as Topic from "../../Topic.js"
import type { TopicPartition } from "../../TopicPartition.js"
import type { Flow, Processor } from "../flow.js"
import * as Validate from "../validate.js"
import type { Worker } from "../worker.js"

/** At most this many records per pull: a chunk, not the whole buffer at once. */
const maxChunk = 1024

/** One assigned partition and the stream of its records (`Consumer.PartitionStream`). */
export interface Partition<K, V, H> {
  readonly topicPartition: TopicPartition
  readonly records: Stream.Stream<CommittableRecord.CommittableRecord<K, V, H>, Topic.DecodeError>
}

interface Options<K, V, H> {
  /** The topics consumed, by name: each record is decoded with its topic's codecs. */
  readonly topics: ReadonlyMap<string, Topic.Topic<K, V, H>>
  readonly onDecodeError: "fail" | "skip"
}

/** The stream's processor, and what to run once the stream's reader is gone. */
export interface StreamProcessor {
  readonly processor: Processor<never>
  /**
   * The records emitted and not committed will never be: the revocations and the shutdown that
   * follow need not wait for them (they commit the frontier the user's commits reached).
   */
  readonly readerGone: Effect.Effect<void>
}

/** Checks the stream's topics and options, then builds the processor that announces each partition on `partitions`. */
export const stream = <K, V, H>(
  partitions: Queue.Enqueue<Partition<K, V, H>>,
  topics: ReadonlyArray<Topic.Topic<K, V, H>>,
  options: StreamOptions
): Effect.Effect<StreamProcessor, SettingsError> =>
  Effect.gen(function* () {
    const names = topics.map((t) => t?.name)
    yield* names.length === 1 ? Validate.topicName("topic.name", names[0]) : Validate.topicNames("topic", names)
    if (options.groupId !== undefined) yield* Validate.name("groupId", options.groupId)
    const checked: Options<K, V, H> = {
      topics: new Map(topics.map((t) => [t.name, t])),
      onDecodeError: yield* Validate.oneOf("onDecodeError", options.onDecodeError ?? "fail", ["fail", "skip"])
    }
    /** The partitions whose records are out, with the flow that runs them. */
    const live = new Map<Worker, Flow>()
    const processor: Processor<never> = (worker, flow) =>
      Effect.suspend(() => {
        live.set(worker, flow)
        return Effect.zipRight(
          Queue.offer(partitions, { topicPartition: worker.topicPartition, records: records(worker, flow, checked) }),
          Effect.never
        )
      }).pipe(Effect.ensuring(Effect.sync(() => live.delete(worker))))
    const readerGone = Effect.sync(() => {
      for (const [worker, flow] of live) flow.orphan(worker)
    })
    return { processor, readerGone }
  })

const records = <K, V, H>(
  worker: Worker,
  flow: Flow,
  options: Options<K, V, H>
): Stream.Stream<CommittableRecord.CommittableRecord<K, V, H>, Topic.DecodeError> => {
  // One per worker, so that a batch's offsets are committed per partition (`commitBatch`
  // groups them by committer).
  const committer: CommittableRecord.Committer = (offsets) => flow.commitUpTo(offsets)
  const topic = options.topics.get(worker.topicPartition.topic)!
  /** Set once a record could not be decoded: the stream fails with it after what came before. */
  let failure: Topic.DecodeError | undefined
  const skipped: Array<Topic.DecodeError> = []

  const decode = (raw: RawRecord): CommittableRecord.CommittableRecord<K, V, H> | undefined => {
    const decoded = Topic.decode(topic, raw)
    if (Either.isRight(decoded)) {
      return {
        record: decoded.right,
        offset: CommittableRecord.makeOffset(worker.topicPartition, raw.offset + 1, worker.epoch, committer)
      }
    }
    if (options.onDecodeError === "skip") {
      flow.finish(worker, raw.offset)
      skipped.push(decoded.left)
    } else {
      flow.abandon(worker)
      failure = decoded.left
    }
    return undefined
  }

  /** Whether the chunk `pull` returned last had records (see the wait below). */
  let emitted = false

  type Pull = Effect.Effect<Chunk.Chunk<CommittableRecord.CommittableRecord<K, V, H>>, Option.Option<Topic.DecodeError>>
  const pull: Pull = Effect.suspend((): Pull => {
    if (failure !== undefined) return Effect.fail(Option.some(failure))
    const taken: Array<CommittableRecord.CommittableRecord<K, V, H>> = []
    while (taken.length < maxChunk && failure === undefined) {
      const raw = flow.take(worker)
      if (raw === undefined) break
      const record = decode(raw)
      if (record !== undefined) taken.push(record)
    }
    const logged =
      skipped.length === 0
        ? Effect.void
        : Effect.forEach(skipped.splice(0), (error) => Effect.logWarning(`Sluice: skipped ${error.message}`), {
            discard: true
          })
    const resumed = flow.resumable ? Effect.zipRight(logged, flow.resume()) : logged
    if (taken.length > 0) {
      emitted = true
      return Effect.as(resumed, Chunk.unsafeFromArray(taken))
    }
    if (failure !== undefined) return Effect.zipRight(resumed, Effect.fail(Option.some(failure)))
    if (worker.state !== "running") return Effect.fail(Option.none())
    // Effect's stream keeps the last chunk it emitted until it emits another, and with it the
    // records' bytes, views into the client's whole fetch response. An empty chunk before a wait
    // that may be long lets go of them.
    if (emitted) {
      emitted = false
      return Effect.as(resumed, Chunk.empty())
    }
    return Effect.zipRight(resumed, Effect.zipRight(worker.waitForRecords(), pull))
  })
  return Stream.repeatEffectChunkOption(pull)
}
