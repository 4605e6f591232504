/**
 * The port a Kafka client implements so the engine can run on it: group membership with
 * assignment callbacks, record delivery, pause/resume and explicit commits.
 *
 * A driver never commits on its own: what is committed is exactly what the engine hands to
 * `GroupSession.commit`. That is the whole of G1 on the driver's side.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { RawRecord } from "./ConsumerRecord.js"
import type { KafkaError } from "./KafkaError.js"
import type { TopicPartition } from "./TopicPartition.js"

/**
 * An offset to commit: `offset` is the next offset to consume (the commit frontier), as in
 * Kafka's own protocol. `metadata` is stored beside it by the broker (the engine keeps the
 * offsets finished above the frontier there; the broker's default limit is 4,096 bytes).
 *
 * @since 0.1.0
 */
export interface OffsetAndMetadata {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly metadata?: string | undefined
}

/**
 * A partition given to this member by a completed rebalance, with its committed offset and
 * metadata when the driver knows them (consumption starts there, or at `startFrom` when the
 * group has no offset).
 *
 * @since 0.1.0
 */
export interface PartitionAssignment {
  readonly topicPartition: TopicPartition
  readonly committed: { readonly offset: number; readonly metadata: string } | undefined
}

/**
 * What to join and how.
 *
 * @since 0.1.0
 */
export interface Subscription {
  readonly groupId: string
  readonly topics: ReadonlyArray<string>
  /** Where a partition starts when the group has no committed offset for it. */
  readonly startFrom: "earliest" | "latest"
  readonly sessionTimeout: Duration.Duration
  readonly rebalanceTimeout: Duration.Duration
  readonly heartbeatInterval: Duration.Duration
  /** Upper bound on what one fetch returns per partition: bounds the buffer overshoot. */
  readonly maxBytesPerPartition: number
  readonly clientId: string
  /**
   * Static membership (`group.instance.id`), or undefined for a dynamic member. A driver whose
   * client cannot be a static member fails `subscribe` rather than join as a dynamic one.
   */
  readonly groupInstanceId?: string | undefined
}

/**
 * The engine's side of the membership; the driver calls these.
 *
 * The driver must call them one at a time, in the order the group changed (no `onRecords`
 * for a partition after its `onRevoked`/`onLost` began, none before its `onAssigned`).
 *
 * @since 0.1.0
 */
export interface GroupListener {
  /**
   * A rebalance completed and gave this member these partitions. Called at the end of every
   * rebalance the member takes part in, with an empty list when it got nothing new: that is how
   * the engine (and `Consumer.health`) knows the member is in the group again.
   */
  readonly onAssigned: (partitions: ReadonlyArray<PartitionAssignment>) => Effect.Effect<void>
  /**
   * Partitions a rebalance is giving this member (new ones only), before the driver reads their committed
   * offsets. The engine opens an exactly-once pipeline's transactional producers here: the open
   * fences a crashed former owner and aborts the transaction it left open, whose pending offsets
   * a read with `require_stable` (librdkafka under read_committed) waits on until it times out.
   * Never fails. A driver that reads without `require_stable` need not call it: the engine opens
   * the producers when the partitions start.
   */
  readonly prepare?: ((partitions: ReadonlyArray<TopicPartition>) => Effect.Effect<void>) | undefined
  /**
   * Where newly assigned partitions start, when the engine keeps its positions outside Kafka
   * (an external offset store, G10). When present, the driver calls it with the assignments
   * it made (the group's committed offsets) right before `onAssigned`, starts each partition
   * exactly at the `committed` offset it returns (or at `startFrom` without one), delivers no
   * record of it from before that offset, and hands the returned assignments to `onAssigned`.
   * When it fails, the driver fails the session as when the committed offsets cannot be read.
   */
  readonly positions?:
    | ((
        partitions: ReadonlyArray<PartitionAssignment>
      ) => Effect.Effect<ReadonlyArray<PartitionAssignment>, KafkaError>)
    | undefined
  /**
   * These partitions are being taken away while this member is still in the group. The
   * rebalance must wait until the returned effect completes: the engine drains or interrupts
   * the partitions' work and commits their final frontier inside it.
   */
  readonly onRevoked: (partitions: ReadonlyArray<TopicPartition>) => Effect.Effect<void>
  /**
   * These partitions were lost: the member was fenced or its session expired, so another
   * member may already own them. Nothing may be committed for them.
   */
  readonly onLost: (partitions: ReadonlyArray<TopicPartition>) => Effect.Effect<void>
  /**
   * Records fetched for an owned partition, in increasing offset order, each offset once (a
   * delivery may start below what an earlier one reached: the engine skips what it has). Must
   * return promptly: the engine applies backpressure by pausing the partition, never by
   * blocking the driver's poll loop (that would stop heartbeats). The engine keeps the array
   * as its buffer: the driver must not change it afterwards.
   */
  readonly onRecords: (
    partition: TopicPartition,
    records: ReadonlyArray<RawRecord>,
    /**
     * The partition's log-end offset (high watermark) when these records were fetched, if the
     * client tells it: the consumer's lag metrics are measured from it (O2).
     */
    logEnd?: number | undefined
  ) => Effect.Effect<void>
}

/**
 * What a driver saw of its client's own activity, for health probes (`Consumer.health`): when
 * its poll loop last completed a fetch (an empty one counts, and so does waiting for records
 * in a long poll) and when it last heartbeated, in milliseconds since the epoch (undefined:
 * not yet, or the client does not say).
 *
 * @since 0.2.0
 */
export interface SessionActivity {
  readonly lastPoll: number | undefined
  readonly lastHeartbeat: number | undefined
}

/**
 * A joined member. Closing the scope it was created in leaves the group and disconnects.
 *
 * @since 0.1.0
 */
export interface GroupSession {
  readonly commit: (offsets: ReadonlyArray<OffsetAndMetadata>) => Effect.Effect<void, KafkaError>
  readonly pause: (partitions: ReadonlyArray<TopicPartition>) => Effect.Effect<void>
  readonly resume: (partitions: ReadonlyArray<TopicPartition>) => Effect.Effect<void>
  /** The member id the coordinator gave (undefined before the first join). */
  readonly memberId: Effect.Effect<string | undefined>
  /** Fails when the session dies for good (e.g. the client crashed and will not restart). */
  readonly failed: Effect.Effect<never, KafkaError>
  /**
   * The client's poll and heartbeat times, for health probes. Optional: without it the health
   * checks that need them are skipped.
   */
  readonly activity?: Effect.Effect<SessionActivity> | undefined
}

/**
 * The consumer side of a Kafka client.
 *
 * @since 0.1.0
 */
export class ConsumerDriver extends Context.Tag("@sluice/core/ConsumerDriver")<
  ConsumerDriver,
  {
    /** A name for logs and diagnostics, e.g. "kafkajs" or "memory". */
    readonly name: string
    /**
     * Connects, joins the group and starts delivering to `listener`. Completes once the
     * client is connected and the subscription is registered (the first assignment may come
     * later, through `onAssigned`).
     */
    readonly subscribe: (
      subscription: Subscription,
      listener: GroupListener
    ) => Effect.Effect<GroupSession, KafkaError, Scope.Scope>
  }
>() {}
