/**
 * The admin port: topics and consumer groups, the way a user or an operator script needs them —
 * create, delete and describe topics (partitions, leaders, start and end offsets), describe a
 * group with its committed offsets and its lag per partition, list groups, and reset a group's
 * offsets.
 *
 * A driver supplies the primitives (`Primitives`: the requests a Kafka client makes) and
 * `make` builds the service from them, so that every driver checks input, reports a missing
 * topic, computes lag and refuses a reset of a live group the same way. Every failure is an
 * `AdminError` whose `reason` a caller matches on.
 *
 * @example
 * ```ts
 * import * as Admin from "@sluice/core/Admin"
 * import * as Effect from "effect/Effect"
 *
 * const program = Effect.gen(function* () {
 *   const admin = yield* Admin.Admin
 *   yield* admin.createTopics([{ name: "orders", partitions: 6 }], { ifNotExists: true })
 *   const group = yield* admin.describeGroup("billing")
 *   for (const p of group.offsets) yield* Effect.log(`${p.topic}-${p.partition}: lag ${p.lag ?? "-"}`)
 *   // Replay the last hour (refused with reason "GroupNotEmpty" while the group has members).
 *   yield* admin.resetOffsets({ groupId: "billing", topic: "orders", to: Admin.timestamp(Date.now() - 3_600_000) })
 * }).pipe(
 *   Effect.catchTag("AdminError", (error) =>
 *     error.reason === "UnknownGroup" ? Effect.log("billing never committed") : Effect.fail(error)
 *   )
 * )
 * ```
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import * as internal from "./internal/admin/service.js"
import type { KafkaError } from "./KafkaError.js"
import type { TopicPartition } from "./TopicPartition.js"

// -----------------------------------------------------------------------------------------
// Errors
// -----------------------------------------------------------------------------------------

/**
 * Why an admin operation failed.
 *
 * - `TopicExists`: a topic to create exists already (nothing of the call was created).
 * - `UnknownTopic`: a named topic (or partition) does not exist.
 * - `UnknownGroup`: the group has neither members nor committed offsets.
 * - `GroupNotEmpty`: the group has members, so its offsets cannot be reset (Kafka refuses
 *   a commit from outside a live group).
 * - `InvalidArgument`: an input was refused, locally or by the broker (`field` names it).
 * - `Unauthorized`: authentication failed, or the ACLs deny the operation.
 * - `Connection`: the brokers or the group's coordinator could not be reached.
 * - `Timeout`: the operation did not complete in time.
 * - `Unknown`: anything else, with the original `cause`.
 *
 * @since 0.2.0
 */
export type AdminErrorReason =
  | "TopicExists"
  | "UnknownTopic"
  | "UnknownGroup"
  | "GroupNotEmpty"
  | "InvalidArgument"
  | "Unauthorized"
  | "Connection"
  | "Timeout"
  | "Unknown"

/**
 * A failed admin operation. `operation` names it (e.g. `"Admin.createTopics"`); for
 * `InvalidArgument`, `field` is the path of the bad input (e.g. `"topics[0].partitions"`) and
 * the message shows the value.
 *
 * @since 0.2.0
 */
export class AdminError extends Data.TaggedError("AdminError")<{
  readonly reason: AdminErrorReason
  readonly operation: string
  readonly message: string
  readonly field?: string | undefined
  readonly cause?: unknown
}> {}

/**
 * Builds an `AdminError` whose message starts with the operation.
 *
 * @since 0.2.0
 */
export const makeError = (options: {
  readonly reason: AdminErrorReason
  readonly operation: string
  readonly message: string
  readonly field?: string | undefined
  readonly cause?: unknown
}): AdminError =>
  new AdminError({
    reason: options.reason,
    operation: options.operation,
    message: `${options.operation}: ${options.message}`,
    ...(options.field === undefined ? {} : { field: options.field }),
    ...(options.cause === undefined ? {} : { cause: options.cause })
  })

const byKafkaReason: Partial<Record<KafkaError["reason"], AdminErrorReason>> = {
  connection: "Connection",
  timeout: "Timeout",
  authentication: "Unauthorized"
}

/**
 * An admin failure from the driver's `KafkaError` translation of it: `reason` when the driver
 * recognised the broker's error (an unknown topic, a group with members, …), otherwise the
 * `KafkaError`'s reason decides (`connection` → `Connection`, `timeout` → `Timeout`,
 * `authentication` → `Unauthorized`, anything else `Unknown`). Its message is kept.
 *
 * @since 0.2.0
 */
export const fromKafkaError = (
  error: KafkaError,
  options: { readonly reason: AdminErrorReason | undefined; readonly operation: string; readonly cause: unknown }
): AdminError =>
  new AdminError({
    reason: options.reason ?? byKafkaReason[error.reason] ?? "Unknown",
    operation: options.operation,
    message: error.message,
    cause: options.cause
  })

// -----------------------------------------------------------------------------------------
// Topics
// -----------------------------------------------------------------------------------------

/**
 * A topic to create. Names are Kafka's: 1–249 of `a-z A-Z 0-9 . _ -`, not `.` or `..`.
 *
 * @since 0.2.0
 */
export interface NewTopic {
  readonly name: string
  /** A positive integer. Default: the cluster's (`num.partitions`). */
  readonly partitions?: number | undefined
  /** A positive integer, at most the number of brokers. Default: the cluster's. */
  readonly replicationFactor?: number | undefined
  /** Topic configs, e.g. `{ "cleanup.policy": "compact" }`; the broker refuses unknown names. */
  readonly configs?: Readonly<Record<string, string>> | undefined
}

/**
 * Where a partition lives: its leader (undefined while it has none, or where the driver has
 * no brokers), its replicas and the in-sync ones, by broker id.
 *
 * @since 0.2.0
 */
export interface PartitionInfo {
  readonly partition: number
  readonly leader: number | undefined
  readonly replicas: ReadonlyArray<number>
  readonly isr: ReadonlyArray<number>
}

/**
 * A partition with its offsets: `startOffset` is the first offset still in the log (retention
 * and deleted records move it), `endOffset` the offset the next record will get.
 *
 * @since 0.2.0
 */
export interface PartitionDescription extends PartitionInfo {
  readonly startOffset: number
  readonly endOffset: number
}

/**
 * A topic as `describeTopics` reports it.
 *
 * @since 0.2.0
 */
export interface TopicDescription {
  readonly name: string
  /** In partition order. */
  readonly partitions: ReadonlyArray<PartitionDescription>
}

// -----------------------------------------------------------------------------------------
// Groups
// -----------------------------------------------------------------------------------------

/**
 * `Empty`: no members (the group exists through its committed offsets); `Stable`: members
 * consuming; `Rebalancing`: a rebalance runs (Kafka's `PreparingRebalance` and
 * `CompletingRebalance`).
 *
 * @since 0.2.0
 */
export type GroupState = "Empty" | "Stable" | "Rebalancing"

/**
 * A member of a consumer group and what it was given.
 *
 * @since 0.2.0
 */
export interface GroupMember {
  readonly memberId: string
  readonly clientId: string
  /** The address the member connected from, as the broker saw it (undefined where the driver has none). */
  readonly host?: string | undefined
  /** The partitions the member was given (empty while a rebalance runs). */
  readonly assignment: ReadonlyArray<TopicPartition>
}

/**
 * A partition of a topic the group committed to or is assigned. `committed` is the group's
 * committed offset (the next offset to consume), undefined when it has none for this
 * partition; `lag` is `endOffset − committed`, undefined without a committed offset.
 *
 * A Sluice consumer commits its frontier and keeps the offsets finished above it in the
 * commit's metadata, so its lag counts those too: an upper bound of the work left.
 *
 * @since 0.2.0
 */
export interface GroupOffset {
  readonly topic: string
  readonly partition: number
  readonly committed: number | undefined
  readonly endOffset: number
  readonly lag: number | undefined
}

/**
 * A consumer group as `describeGroup` reports it.
 *
 * @since 0.2.0
 */
export interface GroupDescription {
  readonly groupId: string
  readonly state: GroupState
  /** Ordered by member id. */
  readonly members: ReadonlyArray<GroupMember>
  /** Every partition of the topics the group committed to or is assigned, by topic and partition. */
  readonly offsets: ReadonlyArray<GroupOffset>
  /** The sum of the partitions' lags (those without a committed offset count for nothing). */
  readonly lag: number
}

// -----------------------------------------------------------------------------------------
// Offsets
// -----------------------------------------------------------------------------------------

/**
 * An offset of a partition: a committed one, or one a reset committed.
 *
 * @since 0.2.0
 */
export interface TopicPartitionOffset {
  readonly topic: string
  readonly partition: number
  readonly offset: number
}

/**
 * Where `resetOffsets` moves a group, for every partition of the topic (`Offsets`: for the
 * partitions it names). `Timestamp` is the first offset whose record's timestamp is at or
 * after it (milliseconds since the epoch), or the end of a partition without one.
 *
 * @since 0.2.0
 */
export type ResetTarget =
  | { readonly _tag: "Earliest" }
  | { readonly _tag: "Latest" }
  | { readonly _tag: "Timestamp"; readonly timestamp: number }
  | {
      readonly _tag: "Offsets"
      readonly offsets: ReadonlyArray<{ readonly partition: number; readonly offset: number }>
    }

/**
 * The first offset still in each partition: the group re-reads everything.
 *
 * @since 0.2.0
 */
export const earliest: ResetTarget = { _tag: "Earliest" }

/**
 * The end of each partition: the group skips everything produced so far.
 *
 * @since 0.2.0
 */
export const latest: ResetTarget = { _tag: "Latest" }

/**
 * The first record at or after `at` in each partition (the end where there is none).
 *
 * @since 0.2.0
 */
export const timestamp = (at: number | Date): ResetTarget => ({
  _tag: "Timestamp",
  timestamp: typeof at === "number" ? at : at.getTime()
})

/**
 * Explicit offsets for some partitions; each must lie between the partition's start and end
 * offsets. The other partitions keep their committed offsets.
 *
 * @since 0.2.0
 */
export const offsets = (
  offsets: ReadonlyArray<{ readonly partition: number; readonly offset: number }>
): ResetTarget => ({ _tag: "Offsets", offsets })

/**
 * What `resetOffsets` moves: one group, on one topic, to a target.
 *
 * @since 0.2.0
 */
export interface ResetOffsets {
  readonly groupId: string
  readonly topic: string
  readonly to: ResetTarget
}

// -----------------------------------------------------------------------------------------
// The service
// -----------------------------------------------------------------------------------------

/**
 * What the admin service offers. Bad input fails with reason `InvalidArgument` before anything
 * is sent; a call that names a missing topic changes nothing.
 *
 * @since 0.2.0
 */
export interface AdminService {
  /**
   * Creates topics and waits until they can be used. A topic that exists already fails the
   * call with `TopicExists` before anything is created, unless `ifNotExists` skips it.
   */
  readonly createTopics: (
    topics: ReadonlyArray<NewTopic>,
    options?: { readonly ifNotExists?: boolean | undefined }
  ) => Effect.Effect<void, AdminError>
  /**
   * Deletes topics (and, eventually, their groups' committed offsets). A missing topic fails
   * the call with `UnknownTopic` before anything is deleted, unless `ifExists` skips it.
   */
  readonly deleteTopics: (
    topics: ReadonlyArray<string>,
    options?: { readonly ifExists?: boolean | undefined }
  ) => Effect.Effect<void, AdminError>
  /** The topics' names, sorted; Kafka's internal topics (`__consumer_offsets`, …) left out. */
  readonly listTopics: Effect.Effect<ReadonlyArray<string>, AdminError>
  /** The topics' partitions with leaders and offsets, in the order given. */
  readonly describeTopics: (topics: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<TopicDescription>, AdminError>
  /** The groups' ids, sorted: groups with members or with committed offsets. */
  readonly listGroups: Effect.Effect<ReadonlyArray<string>, AdminError>
  /** The group's state, members, committed offsets and lag; `UnknownGroup` if it has none of them. */
  readonly describeGroup: (groupId: string) => Effect.Effect<GroupDescription, AdminError>
  /**
   * Commits new offsets for the group, as `kafka-consumer-groups --reset-offsets` does, and
   * returns them. Refused with `GroupNotEmpty` while the group has members; a group that does
   * not exist yet is created with these offsets.
   */
  readonly resetOffsets: (options: ResetOffsets) => Effect.Effect<ReadonlyArray<TopicPartitionOffset>, AdminError>
}

/**
 * The admin service of the driver in use.
 *
 * @since 0.2.0
 */
export class Admin extends Context.Tag("@sluice/core/Admin")<Admin, AdminService>() {}

// -----------------------------------------------------------------------------------------
// For drivers
// -----------------------------------------------------------------------------------------

/**
 * A group as the driver sees it, before offsets are added.
 *
 * @since 0.2.0
 */
export interface GroupInfo {
  readonly state: GroupState
  readonly members: ReadonlyArray<GroupMember>
}

/**
 * Where `Primitives.listOffsets` looks: a partition's start, its end, or the first record at
 * or after a timestamp (the end when there is none).
 *
 * @since 0.2.0
 */
export type OffsetQuery = "earliest" | "latest" | { readonly timestamp: number }

/**
 * The requests a driver implements; `make` adds the checks and the derived operations. Input
 * reaching a primitive is valid and names existing topics (barring a concurrent change, which
 * the primitive reports as Kafka would).
 *
 * @since 0.2.0
 */
export interface Primitives {
  /** Every topic's name, internal ones included or not (`make` leaves them out). */
  readonly listTopics: Effect.Effect<ReadonlyArray<string>, AdminError>
  /** Creates topics that do not exist (`TopicExists` if one does) and waits for their leaders. */
  readonly createTopics: (topics: ReadonlyArray<NewTopic>) => Effect.Effect<void, AdminError>
  readonly deleteTopics: (topics: ReadonlyArray<string>) => Effect.Effect<void, AdminError>
  /** Each topic's partitions, in the order given, partitions in order. */
  readonly describeTopics: (
    topics: ReadonlyArray<string>
  ) => Effect.Effect<
    ReadonlyArray<{ readonly name: string; readonly partitions: ReadonlyArray<PartitionInfo> }>,
    AdminError
  >
  /** An offset for every partition of `topic`, by partition. */
  readonly listOffsets: (topic: string, query: OffsetQuery) => Effect.Effect<ReadonlyMap<number, number>, AdminError>
  readonly listGroups: Effect.Effect<ReadonlyArray<string>, AdminError>
  /** The group, or undefined when it has neither members nor committed offsets. */
  readonly describeGroup: (groupId: string) => Effect.Effect<GroupInfo | undefined, AdminError>
  /** Every offset the group committed (partitions without one are absent). */
  readonly committedOffsets: (groupId: string) => Effect.Effect<ReadonlyArray<TopicPartitionOffset>, AdminError>
  /** Commits from outside the group; `GroupNotEmpty` when the group has members. */
  readonly commitOffsets: (
    groupId: string,
    offsets: ReadonlyArray<TopicPartitionOffset>
  ) => Effect.Effect<void, AdminError>
}

/**
 * The admin service over a driver's primitives: input checks, existence checks, offsets and
 * lag, the refusal of a reset while the group has members, and a span per operation
 * (`Admin.createTopics`, …).
 *
 * @since 0.2.0
 */
export const make = (primitives: Primitives): AdminService => internal.make(primitives)

/**
 * Kafka's internal topics, which `listTopics` leaves out.
 *
 * @since 0.2.0
 */
export const internalTopics: ReadonlySet<string> = new Set([
  "__consumer_offsets",
  "__transaction_state",
  "__share_group_state"
])
