/**
 * The simulated cluster: an in-memory Kafka that implements the driver ports
 * (`ConsumerDriver`, `ProducerDriver`, `Admin`) and the testkit's `TestCluster`, deterministic under
 * `TestClock`, with fault injection and inspection. Pipelines run on it unchanged, and the
 * crashes, rebalances and commit failures that take minutes to stage on a broker take
 * milliseconds here.
 *
 * What it simulates, after Kafka's own group protocol:
 *
 * - topics with partitions, offsets, keys (murmur2 partitioning, as the Java client), headers
 *   and timestamps from `Clock`;
 * - consumer groups with member ids, generations, the `range`, `roundRobin` or `sticky`
 *   assignor, and the eager (default) or cooperative rebalance protocol. An eager rebalance
 *   asks every member to revoke everything it owns and waits for each (up to the member's
 *   rebalance timeout: one that does not finish is expelled and its partitions are lost for
 *   it) before the next generation is computed and handed out;
 * - or KIP-848's consumer group protocol (`protocol: "consumer"`): member and group epochs, a
 *   target assignment computed by the coordinator, incremental reconciliation without a join
 *   barrier (a member that keeps its partitions is never disturbed) and epoch fencing;
 * - session timeouts: a crashed member (`faults.crash`) stops heartbeating and is expelled
 *   after its session timeout of the `Clock`;
 * - commits validated like the broker does (member, generation) and one step stricter: a
 *   member may only commit partitions it owns at that moment (including during its own
 *   `onRevoked`), so a commit after a revocation completed is rejected, as G2 demands;
 * - delivery by one fiber per member (its poll loop), in offset order, in batches of up to
 *   `maxBatchSize`, never for paused or unowned partitions.
 *
 * @example
 * ```ts
 * import { expect, it } from "@effect/vitest"
 * import * as Consumer from "@sluice/core/Consumer"
 * import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
 * import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
 * import * as Effect from "effect/Effect"
 * import * as TestClock from "effect/TestClock"
 *
 * it.scoped("a crashed member's partitions go to the other member after its session timeout", () =>
 *   Effect.gen(function* () {
 *     const kafka = yield* MemoryKafka.MemoryKafka
 *     yield* kafka.createTopic("orders", 4)
 *     const settings = yield* ConsumerSettings.make({ groupId: "billing", sessionTimeout: "10 seconds" })
 *     for (const _ of [1, 2]) {
 *       const consumer = yield* Consumer.make(settings)
 *       yield* Effect.forkScoped(consumer.run({ topics: ["orders"], handler: () => Effect.void }))
 *     }
 *     const before = yield* kafka.awaitStable("billing")
 *     yield* kafka.faults.crash(before.members[0]!.memberId)
 *     yield* TestClock.adjust("10 seconds")
 *     const after = yield* kafka.awaitStable("billing")
 *     expect(after.members.map((m) => m.memberId)).toEqual([before.members[1]!.memberId])
 *     expect(after.members[0]!.assigned).toHaveLength(4)
 *   }).pipe(Effect.provide(MemoryKafka.layer({ seed: 42 })))
 * )
 * ```
 *
 * @since 0.1.0
 */
import { Admin } from "@sluice/core/Admin"
import * as Consumer from "@sluice/core/Consumer"
import { ConsumerDriver, type OffsetAndMetadata } from "@sluice/core/ConsumerDriver"
import type { RawRecord } from "@sluice/core/ConsumerRecord"
import type * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import type { KafkaError } from "@sluice/core/KafkaError"
import * as Producer from "@sluice/core/Producer"
import { ProducerDriver, type ProducerRecord, type RecordMetadata } from "@sluice/core/ProducerDriver"
import type { SettingsError } from "@sluice/core/SettingsError"
import type { TopicPartition } from "@sluice/core/TopicPartition"
import { TransactionalProducerDriver } from "@sluice/core/TransactionalProducerDriver"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/memory/handle.js"
import { TestCluster } from "./TestCluster.js"

// -----------------------------------------------------------------------------------------
// Options
// -----------------------------------------------------------------------------------------

/**
 * Settings of a simulated cluster.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Seeds member ids, assignor tie-breaks and random faults: same seed, same run. */
  readonly seed: number
  /** Partitions of a topic created on first produce (Kafka's `num.partitions`). */
  readonly partitions: number
  /** Whether producing to an unknown topic creates it (Kafka's `auto.create.topics.enable`). */
  readonly autoCreateTopics: boolean
  /**
   * Overrides every member's session timeout (a crashed member is expelled after it). By
   * default each member's own `Subscription.sessionTimeout` applies.
   */
  readonly sessionTimeout: Duration.DurationInput | undefined
  /**
   * Overrides every member's rebalance timeout (how long a rebalance waits for a member's
   * `onRevoked`). By default each member's own `Subscription.rebalanceTimeout` applies.
   */
  readonly rebalanceTimeout: Duration.DurationInput | undefined
  /** Most records one `onRecords` call carries (also bounded by `maxBytesPerPartition`). */
  readonly maxBatchSize: number
  readonly assignor: "range" | "roundRobin" | "sticky"
  /**
   * The group protocol. `eager` and `cooperative` are the classic protocol (Kafka's
   * `group.protocol=classic`): join and sync rounds behind a barrier, where an eager rebalance
   * revokes everything and a cooperative one only what moves. `consumer` is KIP-848's consumer
   * group protocol (`group.protocol=consumer`, the name librdkafka and the Java client use):
   * member epochs and a group epoch, a target assignment computed by the coordinator with
   * `assignor` (`sticky` stands for Kafka's default server-side `uniform` assignor), and
   * members that reconcile on their own: a partition that moves is first revoked by its owner
   * (its `onRevoked` completes) and only then assigned to the next; nothing else is touched.
   * A fenced member (`faults.fence`, or one late with a revocation) loses its partitions, its
   * commits with the stale epoch are rejected, and it rejoins with the same member id at epoch
   * 0. A static member (`groupInstanceId`) that leaves keeps its assignment for its session
   * timeout, and one with the same instance id that joins within it takes it over with nothing
   * else moving (static membership is simulated under this protocol only). Member
   * `generation`s in snapshots and logs are member epochs, the group's its epoch.
   */
  readonly protocol: "eager" | "cooperative" | "consumer"
  /**
   * Pause of a member's poll loop after a round that delivered records. Zero (the default)
   * only yields to other fibers: delivery then needs no clock adjustment under `TestClock`
   * and runs at full speed under the live clock. An idle poll loop never spins: it sleeps
   * until a record, a resume or a rebalance wakes it.
   */
  readonly pollInterval: Duration.DurationInput
  /** The broker's `offset.metadata.max.bytes`: longer commit metadata is refused. */
  readonly maxMetadataBytes: number
}

/**
 * What the options of a simulated cluster default to.
 *
 * @since 0.1.0
 */
export const defaults: Options = {
  seed: 1,
  partitions: 1,
  autoCreateTopics: true,
  sessionTimeout: undefined,
  rebalanceTimeout: undefined,
  maxBatchSize: 500,
  assignor: "range",
  protocol: "eager",
  pollInterval: Duration.zero,
  maxMetadataBytes: 4096
}

// -----------------------------------------------------------------------------------------
// Inspection
// -----------------------------------------------------------------------------------------

/**
 * A committed offset and its metadata.
 *
 * @since 0.1.0
 */
export interface CommittedOffset {
  readonly offset: number
  readonly metadata: string
}

/**
 * An accepted commit of one partition. `seq` orders entries of all logs of the cluster
 * (times are equal under `TestClock` unless the test moves it).
 *
 * @since 0.1.0
 */
export interface CommitLogEntry {
  readonly seq: number
  readonly time: number
  readonly groupId: string
  readonly memberId: string
  readonly generation: number
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly metadata: string
}

/**
 * A refused commit, with the error the member got.
 *
 * @since 0.1.0
 */
export interface RejectedCommit {
  readonly seq: number
  readonly time: number
  readonly groupId: string
  readonly memberId: string
  readonly generation: number
  readonly offsets: ReadonlyArray<OffsetAndMetadata>
  readonly error: KafkaError
}

/**
 * How an ownership ended: `revoked` (its `onRevoked` completed), `lost` (session expired,
 * fenced, or expelled by the rebalance timeout), `left` (the session closed).
 *
 * @since 0.1.0
 */
export type OwnershipEnd = "revoked" | "lost" | "left"

/**
 * One member owning one partition, from the generation that gave it (`from`) until the
 * ownership ended (`until`, undefined while it lasts). Ownership is the coordinator's view:
 * it lasts through the member's `onRevoked`, which is when its final commit is allowed.
 *
 * @since 0.1.0
 */
export interface OwnershipEntry {
  readonly seq: number
  readonly groupId: string
  readonly topic: string
  readonly partition: number
  readonly memberId: string
  readonly generation: number
  readonly from: number
  readonly until: number | undefined
  readonly end: OwnershipEnd | undefined
}

/**
 * What happened in a group, in order. `revoking`/`revoked`, `assigning`/`assigned` and `lost`
 * bracket the listener calls of the member.
 *
 * @since 0.1.0
 */
export type GroupEventType =
  | "joined"
  | "left"
  | "crashed"
  | "fenced"
  | "expelled"
  | "sessionExpired"
  | "rebalanceStarted"
  | "generation"
  | "revoking"
  | "revoked"
  | "assigning"
  | "assigned"
  | "lost"
  | "rebalanceCompleted"

/**
 * One entry of a group's history (`Handle.groupEvents`).
 *
 * @since 0.1.0
 */
export interface GroupEvent {
  readonly seq: number
  readonly time: number
  readonly groupId: string
  readonly type: GroupEventType
  readonly generation: number
  readonly memberId: string | undefined
  readonly partitions: ReadonlyArray<TopicPartition> | undefined
  readonly detail: string | undefined
}

/**
 * `active`: in the group; `crashed`: in the group but not heartbeating (expelled at session
 * expiry); `expelled`: out of the group, about to rejoin with a new member id; `left`: its
 * session closed; `dead`: crashed and expired, or its poll loop died.
 *
 * @since 0.1.0
 */
export type MemberStatus = "active" | "crashed" | "expelled" | "left" | "dead"

/**
 * A member of a group as the coordinator sees it now.
 *
 * @since 0.1.0
 */
export interface MemberSnapshot {
  readonly memberId: string
  readonly clientId: string
  readonly status: MemberStatus
  readonly generation: number
  readonly topics: ReadonlyArray<string>
  /** What the coordinator considers this member to own now. */
  readonly assigned: ReadonlyArray<TopicPartition>
}

/**
 * A group as the coordinator sees it now.
 *
 * @since 0.1.0
 */
export interface GroupSnapshot {
  readonly groupId: string
  readonly generation: number
  /** `empty` (no members), `stable`, or `rebalancing` (also: a rebalance is due). */
  readonly state: "empty" | "stable" | "rebalancing"
  /** Members in the group, ordered by member id. */
  readonly members: ReadonlyArray<MemberSnapshot>
}

// -----------------------------------------------------------------------------------------
// Faults
// -----------------------------------------------------------------------------------------

/**
 * The error an injected commit failure produces:
 *
 * - `retriable`: `reason: "commit"`, retriable (coordinator not available, request timed out);
 * - `rebalanceInProgress`: `reason: "rebalance"`, retriable (the member still owns its
 *   partitions, the commit may be retried once the rebalance completed);
 * - `fenced`: `reason: "rebalance"`, not retriable (illegal generation / unknown member);
 * - `fatal`: `reason: "commit"`, not retriable (e.g. metadata too large).
 *
 * The fault only fails the commit; use `fence` or `forceRebalance` for the group change itself.
 *
 * @since 0.1.0
 */
export type CommitFault = "retriable" | "rebalanceInProgress" | "fenced" | "fatal"

/**
 * Which commits `Faults.failCommits` fails, how often, and with what error.
 *
 * @since 0.1.0
 */
export interface CommitFaultOptions {
  /** Fail this many commits (that match), then stop. Default: unlimited with `probability`, else 1. */
  readonly times?: number | undefined
  /** Fail a matching commit with this probability (seeded). Default 1. */
  readonly probability?: number | undefined
  readonly error?: CommitFault | undefined
  readonly groupId?: string | undefined
  readonly memberId?: string | undefined
}

/**
 * Which fetches `Faults.failFetches` fails, and for how long.
 *
 * @since 0.1.0
 */
export interface FetchFaultOptions {
  /** How long (of the `Clock`) fetches fail: nothing is delivered meanwhile. */
  readonly duration: Duration.DurationInput
  readonly groupId?: string | undefined
  readonly memberId?: string | undefined
  readonly topic?: string | undefined
}

/**
 * What an injected transaction fault does to the next matching transaction's commit:
 *
 * - `timeout`: the coordinator aborts it as if it had outlived its timeout, and bumps the
 *   producer's epoch (as Kafka does), so the producer is fenced: `TransactionError` reason
 *   `timeout`, not retriable;
 * - `retriable`: the commit fails and the transaction is aborted cleanly: reason `connection`,
 *   retriable (the same producer may try again).
 *
 * @since 0.3.0
 */
export type TransactionFault = "timeout" | "retriable"

/**
 * Which transactions `Faults.failTransactions` fails.
 *
 * @since 0.3.0
 */
export interface TransactionFaultOptions {
  /** Fail this many commits (that match), then stop. Default 1. */
  readonly times?: number | undefined
  /** Default `timeout`. */
  readonly error?: TransactionFault | undefined
  /** Only the transactions of this transactional id (default: any). */
  readonly transactionalId?: string | undefined
}

/**
 * Scripted and random faults. Handler faults (fail at a record, hang, be slow) are not the
 * driver's: see `HandlerFaults`.
 *
 * @since 0.1.0
 */
export interface Faults {
  /** Fails the next matching commits (`times`), or each with `probability`. Rules stack. */
  readonly failCommits: (options?: CommitFaultOptions) => Effect.Effect<void>
  /** Stops delivery (fetches fail) for a while, for everyone or a group, member or topic. */
  readonly failFetches: (options: FetchFaultOptions) => Effect.Effect<void>
  /**
   * The member's process dies: it stops heartbeating and delivering, its commits fail
   * (`connection`, retriable), and after its session timeout the group expels it and
   * rebalances; if its engine still runs it gets `onLost`, then `GroupSession.failed` fails.
   * Closing a crashed member's session does not leave the group: a dead process cannot.
   */
  readonly crash: (memberId: string) => Effect.Effect<void, KafkaError>
  /**
   * The coordinator fences the member now (as after a long GC pause): it is expelled, gets
   * `onLost` for what it owns, and rejoins with a new member id.
   */
  readonly fence: (memberId: string) => Effect.Effect<void, KafkaError>
  /** Triggers a rebalance of the group (every group when omitted), as a metadata change would. */
  readonly forceRebalance: (groupId?: string) => Effect.Effect<void>
  /**
   * `times` forced rebalances, `interval` of the `Clock` apart. Runs until done: fork it,
   * and under `TestClock` adjust the clock.
   */
  readonly rebalanceStorm: (options: {
    readonly times: number
    readonly interval: Duration.DurationInput
    readonly groupId?: string | undefined
  }) => Effect.Effect<void>
  /** Fails the next matching transaction commits (see `TransactionFault`). */
  readonly failTransactions: (options?: TransactionFaultOptions) => Effect.Effect<void>
  /** Removes every commit, fetch and transaction fault rule. */
  readonly clear: Effect.Effect<void>
}

// -----------------------------------------------------------------------------------------
// The handle
// -----------------------------------------------------------------------------------------

/**
 * The simulated cluster itself: topics, faults, and inspection for assertions.
 *
 * @since 0.1.0
 */
export interface Handle {
  readonly options: Options
  /** Creates a topic (default partitions from the options). Existing with the same count: no-op. */
  readonly createTopic: (topic: string, partitions?: number) => Effect.Effect<void, KafkaError>
  /** Grows a topic to `partitions`; subscribed groups rebalance. */
  readonly createPartitions: (topic: string, partitions: number) => Effect.Effect<void, KafkaError>
  readonly topics: Effect.Effect<ReadonlyMap<string, number>>
  /** Produces like `ProducerDriver.send`. */
  readonly produce: (records: ReadonlyArray<ProducerRecord>) => Effect.Effect<ReadonlyArray<RecordMetadata>, KafkaError>
  /** Every record of a partition, as stored (the objects consumers receive). */
  readonly records: (topic: string, partition: number) => Effect.Effect<ReadonlyArray<RawRecord>, KafkaError>
  readonly endOffsets: (topic: string) => Effect.Effect<ReadonlyMap<number, number>, KafkaError>
  /** The group's committed offsets of `topic`, with metadata. */
  readonly committed: (groupId: string, topic: string) => Effect.Effect<ReadonlyMap<number, CommittedOffset>>
  /** The group now, or undefined if no member ever joined it. */
  readonly group: (groupId: string) => Effect.Effect<GroupSnapshot | undefined>
  /**
   * Waits until the group exists, no rebalance is running or due, and every live member has
   * processed its assignment. Under `TestClock` a rebalance waiting for a timeout needs the
   * clock moved: fork this, then adjust.
   */
  readonly awaitStable: (groupId: string) => Effect.Effect<GroupSnapshot>
  /** The member that owns the partition now (coordinator's view), in `groupId` or any group. */
  readonly ownerOf: (topic: string, partition: number, groupId?: string) => Effect.Effect<string | undefined>
  readonly commitLog: (groupId?: string) => Effect.Effect<ReadonlyArray<CommitLogEntry>>
  readonly rejectedCommits: (groupId?: string) => Effect.Effect<ReadonlyArray<RejectedCommit>>
  readonly ownershipHistory: (groupId?: string) => Effect.Effect<ReadonlyArray<OwnershipEntry>>
  readonly groupEvents: (groupId?: string) => Effect.Effect<ReadonlyArray<GroupEvent>>
  readonly faults: Faults
}

/**
 * The simulated cluster's handle.
 *
 * @since 0.1.0
 */
export class MemoryKafka extends Context.Tag("@sluice/testkit/MemoryKafka")<MemoryKafka, Handle>() {}

// -----------------------------------------------------------------------------------------
// Constructors
// -----------------------------------------------------------------------------------------

/**
 * The cluster and its drivers, alive for the scope.
 *
 * @since 0.1.0
 */
export const make = (
  options: Partial<Options> = {}
): Effect.Effect<
  {
    readonly handle: Handle
    readonly consumer: ConsumerDriver["Type"]
    readonly producer: ProducerDriver["Type"]
    readonly transactional: TransactionalProducerDriver["Type"]
    readonly testCluster: TestCluster["Type"]
    readonly admin: Admin["Type"]
  },
  never,
  Scope.Scope
> => internal.make({ ...defaults, ...options })

/**
 * A fresh simulated cluster as the `ConsumerDriver`, the `ProducerDriver`, the
 * `TransactionalProducerDriver` (exactly-once pipelines), the `TestCluster`, the `Admin` service
 * and its `MemoryKafka` handle. Works under `TestClock` (`it.effect`) and
 * the live clock.
 *
 * The cluster has no brokers and keeps every record: its `Admin` reports partitions without a
 * leader or replicas, accepts and drops a topic's replication factor and configs, and starts
 * every partition at offset 0.
 *
 * Prefer one layer per test (it is cheap) over sharing one with `it.layer`: the cluster's
 * fibers (group coordinators, session timers) take their `Clock` from the test whose
 * subscription or fault started them.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Partial<Options> = {}
): Layer.Layer<MemoryKafka | ConsumerDriver | ProducerDriver | TransactionalProducerDriver | TestCluster | Admin> =>
  Layer.scopedContext(
    Effect.map(make(options), (cluster) =>
      Context.make(MemoryKafka, cluster.handle).pipe(
        Context.add(ConsumerDriver, cluster.consumer),
        Context.add(ProducerDriver, cluster.producer),
        Context.add(TransactionalProducerDriver, cluster.transactional),
        Context.add(TestCluster, cluster.testCluster),
        Context.add(Admin, cluster.admin)
      )
    )
  )

/**
 * A fresh simulated cluster with a `Consumer` (from `settings`) and a `Producer` on it:
 * everything `layer` provides and the services a program uses, in one layer, as a driver's
 * own layer (`KafkaJs.layer`) provides them. A program's test swaps that layer for this one.
 *
 * @example
 * ```ts
 * import { Pipeline, Topic } from "@sluice/core"
 * import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
 * import * as Effect from "effect/Effect"
 *
 * const audit = Pipeline.make({ topic: Topic.make({ name: "audit" }), handler: () => Effect.void })
 *
 * const test = Pipeline.run(audit).pipe(
 *   Effect.provide(MemoryKafka.layerClient({ groupId: "audit", commitInterval: "50 millis" }, { seed: 3 }))
 * )
 * ```
 *
 * @since 0.2.0
 */
export const layerClient = (
  settings: ConsumerSettings.Input,
  options: Partial<Options> = {}
): Layer.Layer<
  | Consumer.Consumer
  | Producer.Producer
  | MemoryKafka
  | ConsumerDriver
  | ProducerDriver
  | TransactionalProducerDriver
  | TestCluster
  | Admin,
  SettingsError
> => Layer.provideMerge(Layer.merge(Consumer.layer(settings), Producer.layer), layer(options))
