/**
 * What a consumer reports about its partitions and commits: the diagnostics stream
 * (`Consumer.events`), in the spirit of zio-kafka's `DiagnosticEvent`.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type { OffsetAndMetadata } from "./ConsumerDriver.js"
import type { KafkaError } from "./KafkaError.js"
import type { TopicPartition } from "./TopicPartition.js"

/**
 * One diagnostic event, tagged by what happened: a partition assigned, revoked or lost, a
 * commit made or failed, a partition's fetching paused or resumed, a record stalled.
 *
 * @since 0.1.0
 */
export type ConsumerEvent = Data.TaggedEnum<{
  /** A rebalance gave these partitions to this member; their workers are running. */
  Assigned: { readonly memberId: string | undefined; readonly partitions: ReadonlyArray<TopicPartition> }
  /** A revocation began: dispatch stopped, unstarted records dropped. */
  Revoking: { readonly partitions: ReadonlyArray<TopicPartition> }
  /** A partition left this member after its work ended and its final frontier was committed. */
  Revoked: {
    readonly partition: TopicPartition
    /** Buffered records that never started and were dropped. */
    readonly dropped: number
    /** Whether in-flight work had to be interrupted (interrupt strategy or drain timeout). */
    readonly interrupted: boolean
    /** The frontier committed last for the partition, if any. */
    readonly committed: number | undefined
    readonly millis: number
  }
  /** Partitions lost without a revocation (fenced, session expired): interrupted, not committed. */
  Lost: { readonly partitions: ReadonlyArray<TopicPartition> }
  Committed: { readonly offsets: ReadonlyArray<OffsetAndMetadata> }
  CommitFailed: { readonly offsets: ReadonlyArray<OffsetAndMetadata>; readonly error: KafkaError }
  /** The partition's buffer is full: fetching it stopped until the buffer drains. */
  Paused: { readonly partition: TopicPartition; readonly buffered: number }
  Resumed: { readonly partition: TopicPartition; readonly buffered: number }
  /**
   * A record has been in flight longer than its pipeline's `stallTimeout` (O3); `interrupted`
   * when its `onStall` policy interrupts it (and settles it by its error policy). For a batch
   * pipeline's chunk, `offset` is the chunk's first record.
   */
  Stalled: {
    readonly partition: TopicPartition
    readonly offset: number
    readonly millis: number
    readonly interrupted: boolean
  }
}>

/**
 * Constructors (`ConsumerEvent.Assigned({ ... })`), `$is` and `$match` for the events.
 *
 * @since 0.1.0
 */
export const ConsumerEvent = Data.taggedEnum<ConsumerEvent>()
