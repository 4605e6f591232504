/**
 * The simulated cluster's machinery. All state is plain mutable JavaScript owned by the
 * cluster: fibers interleave only at effect boundaries, so every synchronous block below is
 * atomic, and the hot paths (produce, delivery) cost no more than array pushes and slices.
 *
 * Three kinds of fibers run here:
 * - one poll loop per member (forked by `subscribe`): it makes every listener call of that
 *   member, one at a time, as a real client's poll thread does, and delivers records;
 * - one coordinator per group (forked in the cluster's scope): it runs the rebalances;
 * - one session-expiry timer per crashed member.
 */
import type {
  ConsumerDriver,
  GroupListener,
  GroupSession,
  OffsetAndMetadata,
  PartitionAssignment,
  ProducerDriver,
  ProducerRecord,
  RecordMetadata,
  Subscription
} from "@sluice/core/ConsumerDriver"
import { noHeaders, type RawRecord } from "@sluice/core/ConsumerRecord"
import * as KafkaError from "@sluice/core/KafkaError"
import * as TP from "@sluice/core/TopicPartition"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as MemoryKafka from "../../MemoryKafka.js"
import type { TestCluster } from "../../TestCluster.js"
import { assign } from "./assignor.js"
import { partitionForKey } from "./murmur2.js"
import { Prng } from "./prng.js"
import { Notifier, Signal } from "./signal.js"

// -----------------------------------------------------------------------------------------
// Logs
// -----------------------------------------------------------------------------------------

/**
 * Bytes a record counts for against `maxBytesPerPartition`, besides its key, value and
 * headers: roughly Kafka's per-record framing, so that empty records still fill a fetch.
 */
const RECORD_OVERHEAD = 16

const recordSize = (record: RawRecord): number => {
  let size = RECORD_OVERHEAD + (record.key === null ? 0 : record.key.length)
  if (record.value !== null) size += record.value.length
  const headers = record.headers
  for (let i = 0; i < headers.length; i++) size += headers[i]!.key.length + (headers[i]!.value?.length ?? 0)
  return size
}

class PartitionLog {
  readonly records: Array<RawRecord> = []
  /** `bytes[i]` is the size of `records[0..i)`: a batch's size in O(1), its byte bound by bisection. */
  readonly bytes: Array<number> = [0]

  constructor(
    readonly topic: string,
    readonly partition: number
  ) {}

  append(record: RawRecord): void {
    this.records.push(record)
    this.bytes.push(this.bytes[this.bytes.length - 1]! + recordSize(record))
  }

  /** The end of a batch from `from`: at most `maxRecords` and `maxBytes`, at least one record. */
  batchEnd(from: number, maxRecords: number, maxBytes: number): number {
    const to = Math.min(this.records.length, from + maxRecords)
    const base = this.bytes[from]!
    if (this.bytes[to]! - base <= maxBytes) return to
    let lo = from + 1
    let hi = to
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (this.bytes[mid]! - base <= maxBytes) lo = mid
      else hi = mid - 1
    }
    return lo
  }
}

class Topic {
  readonly partitions: Array<PartitionLog> = []
  /** Where the next keyless record goes (round-robin). */
  next = 0

  constructor(
    readonly name: string,
    partitions: number
  ) {
    this.grow(partitions)
  }

  grow(partitions: number): void {
    for (let p = this.partitions.length; p < partitions; p++) this.partitions.push(new PartitionLog(this.name, p))
  }
}

// -----------------------------------------------------------------------------------------
// Groups and members
// -----------------------------------------------------------------------------------------

type Control =
  | { readonly _tag: "Revoke"; readonly partitions: ReadonlyArray<TP.TopicPartition>; readonly done: Done }
  | {
      readonly _tag: "Assign"
      readonly partitions: ReadonlyArray<TP.TopicPartition>
      readonly generation: number
      readonly done: Done
    }
  | { readonly _tag: "Lost" }

type Done = Deferred.Deferred<void>

const makeDone = (): Done => Deferred.unsafeMake<void>(FiberId.none)

/** A partition in the member's own view: where its fetching stands. */
interface Fetching {
  readonly tp: TP.TopicPartition
  readonly log: PartitionLog
  position: number
  paused: boolean
}

type Mutable<A> = { -readonly [K in keyof A]: A[K] }

class Member {
  id = ""
  status: MemoryKafka.MemberStatus = "active"
  generation = -1
  /** What the poll loop delivers: changed only by the poll loop itself. */
  readonly fetching = new Map<string, Fetching>()
  inbox: Array<Control> = []
  readonly wake = new Signal()
  /** Completed when this membership ends (left, expelled, expired); renewed at each join. */
  gone: Done = makeDone()
  readonly failed = Deferred.unsafeMake<never, KafkaError.KafkaError>(FiberId.none)
  /** Inside a listener call for a control event. */
  busy = false
  /** False once the session's scope closed: nobody is left to call the listener. */
  hasFiber = true
  blockedUntil: number | undefined = undefined

  constructor(
    readonly group: Group,
    readonly subscription: Subscription,
    readonly listener: GroupListener,
    readonly sessionTimeout: number,
    readonly rebalanceTimeout: number
  ) {}

  get inGroup(): boolean {
    return this.group.members.get(this.id) === this
  }
}

interface Ownership {
  readonly member: Member
  readonly entry: Mutable<MemoryKafka.OwnershipEntry>
}

class Group {
  generation = 0
  rebalancing = false
  /** A rebalance is due. */
  requested = false
  /** A forced rebalance arrived during the current one: run another after it. */
  forced = false
  readonly members = new Map<string, Member>()
  /** Open sessions, members or not (an expelled member is about to rejoin). */
  readonly sessions = new Set<Member>()
  /** The coordinator's view of ownership: from assignment until the revocation completed. */
  readonly owners = new Map<string, Ownership>()
  readonly committed = new Map<string, MemoryKafka.CommittedOffset>()
  readonly wake = new Signal()

  constructor(readonly id: string) {}
}

interface CommitRule {
  remaining: number
  readonly probability: number
  readonly error: MemoryKafka.CommitFault
  readonly groupId: string | undefined
  readonly memberId: string | undefined
}

interface FetchRule {
  readonly until: number
  readonly groupId: string | undefined
  readonly memberId: string | undefined
  readonly topic: string | undefined
}

const kafkaError = (
  operation: string,
  reason: KafkaError.KafkaErrorReason,
  message: string,
  retriable = false
): KafkaError.KafkaError => KafkaError.make({ reason, operation, message, retriable })

const faultError = (fault: MemoryKafka.CommitFault): KafkaError.KafkaError => {
  switch (fault) {
    case "retriable":
      return kafkaError("commit", "commit", "injected fault: coordinator not available", true)
    case "rebalanceInProgress":
      return kafkaError("commit", "rebalance", "injected fault: rebalance in progress", true)
    case "fenced":
      return kafkaError("commit", "rebalance", "injected fault: illegal generation (member fenced)")
    case "fatal":
      return kafkaError("commit", "commit", "injected fault: offset metadata too large")
  }
}

const millis = (input: Duration.DurationInput): number => Duration.toMillis(Duration.decode(input))

// -----------------------------------------------------------------------------------------
// The cluster
// -----------------------------------------------------------------------------------------

class Cluster {
  readonly topics = new Map<string, Topic>()
  readonly groups = new Map<string, Group>()
  /** Members subscribed to a topic, to wake their poll loops when records arrive. */
  readonly subscribers = new Map<string, Set<Member>>()
  /** Every member id ever given, so faults can name a member that has since left. */
  readonly membersById = new Map<string, Member>()
  readonly prng: Prng
  readonly changed = new Notifier()
  readonly pollInterval: number
  seq = 0
  readonly commitLog: Array<MemoryKafka.CommitLogEntry> = []
  readonly rejected: Array<MemoryKafka.RejectedCommit> = []
  readonly ownership: Array<Mutable<MemoryKafka.OwnershipEntry>> = []
  readonly events: Array<MemoryKafka.GroupEvent> = []
  commitRules: Array<CommitRule> = []
  fetchRules: Array<FetchRule> = []

  constructor(
    readonly options: MemoryKafka.Options,
    readonly scope: Scope.Scope
  ) {
    this.prng = new Prng(options.seed)
    this.pollInterval = millis(options.pollInterval)
  }

  // --- topics and records ---------------------------------------------------------------

  createTopic(name: string, partitions: number): KafkaError.KafkaError | undefined {
    if (name.length === 0 || name.includes("|")) return kafkaError("createTopic", "protocol", `invalid topic "${name}"`)
    if (!Number.isInteger(partitions) || partitions < 1) {
      return kafkaError("createTopic", "protocol", `invalid partition count ${partitions} for "${name}"`)
    }
    const existing = this.topics.get(name)
    if (existing !== undefined) {
      return existing.partitions.length === partitions
        ? undefined
        : kafkaError(
            "createTopic",
            "protocol",
            `topic "${name}" already exists with ${existing.partitions.length} partitions`
          )
    }
    this.topics.set(name, new Topic(name, partitions))
    this.metadataChanged(name)
    return undefined
  }

  createPartitions(name: string, partitions: number): KafkaError.KafkaError | undefined {
    const topic = this.topics.get(name)
    if (topic === undefined) return kafkaError("createPartitions", "protocol", `unknown topic "${name}"`)
    if (!Number.isInteger(partitions) || partitions <= topic.partitions.length) {
      return kafkaError(
        "createPartitions",
        "protocol",
        `"${name}" has ${topic.partitions.length} partitions; a topic can only grow`
      )
    }
    topic.grow(partitions)
    this.metadataChanged(name)
    return undefined
  }

  /** Groups subscribed to a topic whose partitions changed rebalance, as after a metadata refresh. */
  private metadataChanged(topic: string): void {
    const members = this.subscribers.get(topic)
    if (members === undefined) return
    for (const group of new Set(Array.from(members, (m) => m.group))) this.request(group)
  }

  log(topic: string, partition: number): PartitionLog | undefined {
    return this.topics.get(topic)?.partitions[partition]
  }

  produce(records: ReadonlyArray<ProducerRecord>, now: number): ReadonlyArray<RecordMetadata> | KafkaError.KafkaError {
    // Partitions are chosen for the whole batch before anything is appended: a send that
    // fails appends nothing.
    const targets = new Array<PartitionLog>(records.length)
    let topic: Topic | undefined
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!
      if (topic === undefined || topic.name !== record.topic) topic = this.topics.get(record.topic)
      if (topic === undefined) {
        if (!this.options.autoCreateTopics) {
          return kafkaError("send", "protocol", `unknown topic "${record.topic}" (autoCreateTopics is off)`)
        }
        const error = this.createTopic(record.topic, this.options.partitions)
        if (error !== undefined) return error
        topic = this.topics.get(record.topic)!
      }
      const count = topic.partitions.length
      let partition: number
      if (record.partition !== undefined) {
        partition = record.partition
        if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
          return kafkaError("send", "protocol", `unknown partition ${record.topic}-${partition}`)
        }
      } else if (record.key !== null) {
        partition = partitionForKey(record.key, count)
      } else {
        partition = topic.next
        topic.next = (topic.next + 1) % count
      }
      targets[i] = topic.partitions[partition]!
    }
    // The stored objects are the ones consumers receive and `send` returns: one allocation
    // per record for the whole trip.
    const out = new Array<RawRecord>(records.length)
    const touched = new Set<string>()
    let last = ""
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!
      const log = targets[i]!
      const raw: RawRecord = {
        topic: log.topic,
        partition: log.partition,
        offset: log.records.length,
        key: record.key,
        value: record.value,
        headers: record.headers ?? noHeaders,
        timestamp: record.timestamp ?? now
      }
      log.append(raw)
      out[i] = raw
      if (log.topic !== last) {
        last = log.topic
        touched.add(last)
      }
    }
    for (const topic of touched) {
      const members = this.subscribers.get(topic)
      if (members !== undefined) for (const member of members) member.wake.notify()
    }
    return out
  }

  // --- bookkeeping ------------------------------------------------------------------------

  event(
    group: Group,
    type: MemoryKafka.GroupEventType,
    now: number,
    member?: Member,
    partitions?: ReadonlyArray<TP.TopicPartition>,
    detail?: string
  ): void {
    this.events.push({
      seq: ++this.seq,
      time: now,
      groupId: group.id,
      type,
      generation: group.generation,
      memberId: member?.id,
      partitions,
      detail
    })
  }

  request(group: Group): void {
    group.requested = true
    group.wake.notify()
    this.changed.notify()
  }

  ownedBy(group: Group, member: Member): Array<TP.TopicPartition> {
    const out: Array<TP.TopicPartition> = []
    for (const ownership of group.owners.values()) {
      if (ownership.member === member) out.push({ topic: ownership.entry.topic, partition: ownership.entry.partition })
    }
    return out.sort(TP.order)
  }

  /** Ends the ownership of `partitions` (all when undefined) by `member`, if it still holds them. */
  release(
    group: Group,
    member: Member,
    partitions: ReadonlyArray<TP.TopicPartition> | undefined,
    end: MemoryKafka.OwnershipEnd,
    now: number
  ): void {
    const keys = partitions === undefined ? Array.from(group.owners.keys()) : partitions.map(TP.key)
    for (const key of keys) {
      const ownership = group.owners.get(key)
      if (ownership === undefined || ownership.member !== member) continue
      ownership.entry.until = now
      ownership.entry.end = end
      group.owners.delete(key)
    }
  }

  private newMemberId(clientId: string): string {
    for (;;) {
      const id = `${clientId}-${this.prng.hex8()}`
      if (!this.membersById.has(id)) return id
    }
  }

  join(member: Member, now: number, rejoin: boolean): void {
    member.id = this.newMemberId(member.subscription.clientId)
    member.status = "active"
    member.generation = -1
    member.gone = makeDone()
    member.group.members.set(member.id, member)
    this.membersById.set(member.id, member)
    this.event(member.group, "joined", now, member, undefined, rejoin ? "rejoined after expulsion" : undefined)
    this.request(member.group)
  }

  /**
   * Removes a member from its group now: its partitions are lost (the next owner may take
   * them at once), assignments and revocations sent to it are void, and its poll loop is
   * told to call `onLost`. `next` is `expelled` (it will rejoin) or `dead` (crashed).
   */
  expel(member: Member, now: number, next: "expelled" | "dead", type: MemoryKafka.GroupEventType, detail: string) {
    const group = member.group
    if (!member.inGroup) return
    group.members.delete(member.id)
    this.release(group, member, undefined, "lost", now)
    member.generation = -1
    member.status = next
    Deferred.unsafeDone(member.gone, Exit.void)
    member.inbox = member.inbox.filter((c) => c._tag === "Lost")
    member.inbox.push({ _tag: "Lost" })
    this.event(group, type, now, member, undefined, detail)
    if (next === "dead" && !member.hasFiber) this.bury(member)
    member.wake.notify()
    this.request(group)
  }

  /** The session of a dead member ends for good: `GroupSession.failed` fails. */
  bury(member: Member, error?: KafkaError.KafkaError): void {
    member.status = "dead"
    member.group.sessions.delete(member)
    this.unsubscribe(member)
    Deferred.unsafeDone(
      member.failed,
      Exit.fail(
        error ??
          kafkaError(
            "session",
            "connection",
            `member ${member.id} crashed and its session expired; it will not restart`
          )
      )
    )
    this.changed.notify()
  }

  private unsubscribe(member: Member): void {
    for (const topic of member.subscription.topics) this.subscribers.get(topic)?.delete(member)
  }

  /** The session's scope closed. A crashed member stays in the group until its session expires. */
  leave(member: Member, now: number): void {
    member.hasFiber = false
    const group = member.group
    if (member.status === "crashed") return
    if (member.status === "dead") {
      this.bury(member)
      return
    }
    if (member.inGroup) {
      group.members.delete(member.id)
      this.release(group, member, undefined, "left", now)
      Deferred.unsafeDone(member.gone, Exit.void)
      this.event(group, "left", now, member)
      this.request(group)
    }
    member.status = "left"
    member.inbox = []
    group.sessions.delete(member)
    this.unsubscribe(member)
    this.changed.notify()
  }

  // --- commits ----------------------------------------------------------------------------

  commit(member: Member, offsets: ReadonlyArray<OffsetAndMetadata>, now: number): KafkaError.KafkaError | undefined {
    const group = member.group
    const error = this.validateCommit(member, offsets)
    if (error !== undefined) {
      this.rejected.push({
        seq: ++this.seq,
        time: now,
        groupId: group.id,
        memberId: member.id,
        generation: member.generation,
        offsets: offsets.slice(),
        error
      })
      return error
    }
    for (const o of offsets) {
      const metadata = o.metadata ?? ""
      group.committed.set(TP.key(o), { offset: o.offset, metadata })
      this.commitLog.push({
        seq: ++this.seq,
        time: now,
        groupId: group.id,
        memberId: member.id,
        generation: member.generation,
        topic: o.topic,
        partition: o.partition,
        offset: o.offset,
        metadata
      })
    }
    return undefined
  }

  private validateCommit(member: Member, offsets: ReadonlyArray<OffsetAndMetadata>): KafkaError.KafkaError | undefined {
    const group = member.group
    // A crashed process's requests never reach the coordinator.
    if (member.status === "crashed") {
      return kafkaError("commit", "connection", "the member crashed: the coordinator is unreachable", true)
    }
    const fault = this.commitFault(group, member)
    if (fault !== undefined) return fault
    if (member.status !== "active" || !member.inGroup) {
      return kafkaError("commit", "rebalance", `unknown member ${member.id}: it is no longer in group ${group.id}`)
    }
    if (member.generation !== group.generation) {
      return group.rebalancing
        ? kafkaError("commit", "rebalance", `rebalance in progress in group ${group.id}`, true)
        : kafkaError("commit", "rebalance", `illegal generation ${member.generation} (group is at ${group.generation})`)
    }
    for (const o of offsets) {
      const log = Number.isInteger(o.partition) ? this.log(o.topic, o.partition) : undefined
      if (log === undefined) return kafkaError("commit", "protocol", `unknown partition ${o.topic}-${o.partition}`)
      if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
        return kafkaError("commit", "protocol", `invalid offset ${o.offset} for ${o.topic}-${o.partition}`)
      }
      const max = this.options.maxMetadataBytes
      // A UTF-16 unit is at most 3 UTF-8 bytes: most metadata never needs measuring.
      if (o.metadata !== undefined && o.metadata.length * 3 > max && Buffer.byteLength(o.metadata, "utf8") > max) {
        return kafkaError("commit", "commit", `offset metadata of ${o.topic}-${o.partition} exceeds ${max} bytes`)
      }
      // Stricter than the broker, which checks only member and generation: a partition
      // committed by a member that does not own it is exactly what G2 forbids.
      if (group.owners.get(TP.key(o))?.member !== member) {
        return kafkaError("commit", "rebalance", `${o.topic}-${o.partition} is not owned by member ${member.id}`)
      }
    }
    return undefined
  }

  private commitFault(group: Group, member: Member): KafkaError.KafkaError | undefined {
    const rules = this.commitRules
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!
      if (rule.groupId !== undefined && rule.groupId !== group.id) continue
      if (rule.memberId !== undefined && rule.memberId !== member.id) continue
      if (rule.probability < 1 && this.prng.nextFloat() >= rule.probability) continue
      if (--rule.remaining <= 0) rules.splice(i, 1)
      return faultError(rule.error)
    }
    return undefined
  }

  private fetchBlocked(member: Member, topic: string): number {
    let until = 0
    for (const rule of this.fetchRules) {
      if (rule.groupId !== undefined && rule.groupId !== member.group.id) continue
      if (rule.memberId !== undefined && rule.memberId !== member.id) continue
      if (rule.topic !== undefined && rule.topic !== topic) continue
      if (rule.until > until) until = rule.until
    }
    return until
  }

  // --- the poll loop ----------------------------------------------------------------------

  private nextControl(member: Member): Control | undefined {
    if (member.status === "active" || member.status === "expelled") return member.inbox.shift()
    // A crashed process does nothing; a dead one's engine still learns that it lost everything.
    const index = member.inbox.findIndex((c) => c._tag === "Lost")
    return index < 0 ? undefined : member.inbox.splice(index, 1)[0]
  }

  memberLoop(member: Member): Effect.Effect<void> {
    const self = this
    return Effect.gen(function* () {
      for (;;) {
        const control = self.nextControl(member)
        if (control !== undefined) {
          member.busy = true
          yield* self.handle(member, control)
          member.busy = false
          self.changed.notify()
          continue
        }
        if (member.status === "dead") {
          self.bury(member)
          return
        }
        if (member.status === "expelled") {
          self.join(member, yield* Clock.currentTimeMillis, true)
          continue
        }
        if (member.status !== "active") {
          yield* member.wake.await
          continue
        }
        const delivered = yield* self.deliver(member)
        if (delivered > 0) {
          yield* self.pollInterval > 0 ? Effect.sleep(self.pollInterval) : Effect.yieldNow()
        } else if (member.blockedUntil !== undefined) {
          const now = yield* Clock.currentTimeMillis
          yield* Effect.raceFirst(member.wake.await, Effect.sleep(Math.max(0, member.blockedUntil - now)))
        } else {
          yield* member.wake.await
        }
      }
    }).pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause)
          : Effect.flatMap(Clock.currentTimeMillis, (now) =>
              Effect.sync(() => {
                // The listener died: the client is gone, as if its process had exited.
                this.leave(member, now)
                this.bury(
                  member,
                  KafkaError.make({
                    reason: "unknown",
                    operation: "poll",
                    message: "a listener callback died",
                    cause: Cause.squash(cause)
                  })
                )
              })
            )
      )
    )
  }

  /** One round: a batch of each owned, unpaused partition with records, in partition order. */
  private deliver(member: Member): Effect.Effect<number> {
    const self = this
    return Effect.gen(function* () {
      let delivered = 0
      member.blockedUntil = undefined
      if (self.fetchRules.length > 0) {
        const now = yield* Clock.currentTimeMillis
        self.fetchRules = self.fetchRules.filter((rule) => rule.until > now)
      }
      const maxBytes = member.subscription.maxBytesPerPartition
      for (const fetching of member.fetching.values()) {
        if (fetching.paused) continue
        const log = fetching.log
        const from = fetching.position
        if (from >= log.records.length) continue
        if (self.fetchRules.length > 0) {
          const until = self.fetchBlocked(member, fetching.tp.topic)
          if (until > 0) {
            member.blockedUntil = member.blockedUntil === undefined ? until : Math.min(member.blockedUntil, until)
            continue
          }
        }
        const to = log.batchEnd(from, self.options.maxBatchSize, maxBytes)
        fetching.position = to
        yield* member.listener.onRecords(fetching.tp, log.records.slice(from, to))
        delivered += to - from
        // A rebalance or a crash is handled before anything else is delivered.
        if (member.inbox.length > 0 || member.status !== "active") break
      }
      return delivered
    })
  }

  private handle(member: Member, control: Control): Effect.Effect<void> {
    const self = this
    const group = member.group
    return Effect.gen(function* () {
      switch (control._tag) {
        case "Revoke": {
          for (const tp of control.partitions) member.fetching.delete(TP.key(tp))
          self.event(group, "revoking", yield* Clock.currentTimeMillis, member, control.partitions)
          yield* member.listener.onRevoked(control.partitions)
          const now = yield* Clock.currentTimeMillis
          if (member.status === "active" && member.inGroup) {
            // Ownership lasts through onRevoked, so its final commit is accepted; it ends here.
            self.release(group, member, control.partitions, "revoked", now)
            self.event(group, "revoked", now, member, control.partitions)
            Deferred.unsafeDone(control.done, Exit.void)
          } else {
            self.event(group, "revoked", now, member, control.partitions, "too late: no longer a member")
          }
          return
        }
        case "Assign": {
          if (control.generation !== group.generation || !member.inGroup || member.status !== "active") {
            Deferred.unsafeDone(control.done, Exit.void)
            return
          }
          const assignments: Array<PartitionAssignment> = []
          for (const tp of control.partitions) {
            const key = TP.key(tp)
            const log = self.log(tp.topic, tp.partition)
            if (log === undefined || group.owners.get(key)?.member !== member) continue
            const committed = group.committed.get(key)
            // An offset past the log end is out of range: reset as the subscription says.
            const position =
              committed !== undefined && committed.offset <= log.records.length
                ? committed.offset
                : member.subscription.startFrom === "earliest"
                  ? 0
                  : log.records.length
            member.fetching.set(key, { tp, log, position, paused: false })
            assignments.push({
              topicPartition: tp,
              committed:
                committed === undefined ? undefined : { offset: committed.offset, metadata: committed.metadata }
            })
          }
          self.event(group, "assigning", yield* Clock.currentTimeMillis, member, control.partitions)
          yield* member.listener.onAssigned(assignments)
          self.event(group, "assigned", yield* Clock.currentTimeMillis, member, control.partitions)
          Deferred.unsafeDone(control.done, Exit.void)
          return
        }
        case "Lost": {
          const lost = Array.from(member.fetching.values(), (f) => f.tp)
          member.fetching.clear()
          if (lost.length === 0) return
          self.event(group, "lost", yield* Clock.currentTimeMillis, member, lost)
          yield* member.listener.onLost(lost)
          return
        }
      }
    })
  }

  // --- the coordinator --------------------------------------------------------------------

  coordinator(group: Group): Effect.Effect<void> {
    const self = this
    return Effect.gen(function* () {
      for (;;) {
        if (group.requested) yield* self.rebalance(group)
        else yield* group.wake.await
      }
    })
  }

  private rebalance(group: Group): Effect.Effect<void> {
    const self = this
    const eager = this.options.protocol === "eager"
    return Effect.gen(function* () {
      group.rebalancing = true
      group.forced = false
      self.event(group, "rebalanceStarted", yield* Clock.currentTimeMillis)
      self.changed.notify()

      // Join phase. Eager: everyone gives up everything first. Both: a crashed member is
      // waited for until its session expires or the rebalance timeout passes.
      yield* Effect.forEach(
        Array.from(group.members.values()),
        (member) => {
          if (member.status === "crashed") return self.awaitCrashed(member)
          if (!eager) return Effect.void
          const owned = self.ownedBy(group, member)
          return owned.length === 0 ? Effect.void : self.revokeAndWait(member, owned)
        },
        { concurrency: "unbounded", discard: true }
      )

      // Whoever is in the group now makes the next generation; later changes need another round.
      group.requested = group.forced
      const joined = Array.from(group.members.values()).filter((m) => m.status === "active")
      const partitions = new Map<string, number>()
      for (const member of joined) {
        for (const topic of member.subscription.topics) {
          const count = self.topics.get(topic)?.partitions.length
          if (count !== undefined) partitions.set(topic, count)
        }
      }
      const target = assign(
        self.options.assignor,
        joined.map((m) => ({ id: m.id, topics: m.subscription.topics, owned: self.ownedBy(group, m) })),
        partitions
      )

      // Cooperative: only what moves is revoked; it is handed out below, once released.
      if (!eager) {
        yield* Effect.forEach(
          joined,
          (member) => {
            const keep = new Set(target.get(member.id)!.map(TP.key))
            const revoked = self.ownedBy(group, member).filter((tp) => !keep.has(TP.key(tp)))
            return revoked.length === 0 ? Effect.void : self.revokeAndWait(member, revoked)
          },
          { concurrency: "unbounded", discard: true }
        )
      }

      // Sync phase.
      const now = yield* Clock.currentTimeMillis
      const generation = ++group.generation
      self.event(group, "generation", now, undefined, undefined, `${joined.length} member(s)`)
      const acks: Array<Effect.Effect<void>> = []
      for (const member of joined) {
        // A member fenced while this rebalance waited has rejoined under a new id, unknown to
        // `target`: its join requested the next rebalance, which will include it.
        const assigned = target.get(member.id)
        if (member.status !== "active" || !member.inGroup || assigned === undefined) continue
        member.generation = generation
        const added: Array<TP.TopicPartition> = []
        for (const tp of assigned) {
          const key = TP.key(tp)
          if (group.owners.has(key)) continue
          const entry: Mutable<MemoryKafka.OwnershipEntry> = {
            seq: ++self.seq,
            groupId: group.id,
            topic: tp.topic,
            partition: tp.partition,
            memberId: member.id,
            generation,
            from: now,
            until: undefined,
            end: undefined
          }
          self.ownership.push(entry)
          group.owners.set(key, { member, entry })
          added.push(tp)
        }
        const done = makeDone()
        member.inbox.push({ _tag: "Assign", partitions: added, generation, done })
        member.wake.notify()
        acks.push(self.awaitMember(member, done, member.gone))
      }
      // The rebalance completes when every member has taken its assignment (or gave up on it).
      yield* Effect.all(acks, { concurrency: "unbounded", discard: true })
      group.rebalancing = false
      self.event(group, "rebalanceCompleted", yield* Clock.currentTimeMillis)
      self.changed.notify()
    })
  }

  /** Waits for `done` or the end of the membership, up to the member's rebalance timeout. */
  private awaitMember(member: Member, done: Done, gone: Done): Effect.Effect<boolean> {
    return Deferred.await(done).pipe(
      Effect.raceFirst(Deferred.await(gone)),
      Effect.timeoutOption(Duration.millis(member.rebalanceTimeout)),
      Effect.map(Option.isSome)
    )
  }

  private revokeAndWait(member: Member, partitions: ReadonlyArray<TP.TopicPartition>): Effect.Effect<void> {
    return Effect.suspend(() => {
      const done = makeDone()
      const gone = member.gone
      member.inbox.push({ _tag: "Revoke", partitions, done })
      member.wake.notify()
      return Effect.flatMap(this.awaitMember(member, done, gone), (ok) =>
        ok ? Effect.void : this.expelLate(member, gone)
      )
    })
  }

  private awaitCrashed(member: Member): Effect.Effect<void> {
    return Effect.suspend(() => {
      const gone = member.gone
      return Deferred.await(gone).pipe(
        Effect.timeoutOption(Duration.millis(member.rebalanceTimeout)),
        Effect.flatMap((ok) => (Option.isSome(ok) ? Effect.void : this.expelLate(member, gone)))
      )
    })
  }

  /** The member did not rejoin within its rebalance timeout: out, and its partitions are lost. */
  private expelLate(member: Member, gone: Done): Effect.Effect<void> {
    return Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        if (member.gone !== gone) return
        this.expel(
          member,
          now,
          member.status === "crashed" ? "dead" : "expelled",
          "expelled",
          "did not rejoin within its rebalance timeout"
        )
      })
    )
  }

  // --- inspection -------------------------------------------------------------------------

  isStable(group: Group): boolean {
    if (group.rebalancing || group.requested) return false
    for (const member of group.sessions) {
      if (member.status === "crashed" || member.status === "dead") continue
      if (member.status !== "active") return false
      if (member.busy || member.inbox.length > 0 || member.generation !== group.generation) return false
    }
    return true
  }

  snapshot(group: Group): MemoryKafka.GroupSnapshot {
    const members = Array.from(group.members.values())
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map(
        (m): MemoryKafka.MemberSnapshot => ({
          memberId: m.id,
          clientId: m.subscription.clientId,
          status: m.status,
          generation: m.generation,
          topics: m.subscription.topics.slice(),
          assigned: this.ownedBy(group, m)
        })
      )
    return {
      groupId: group.id,
      generation: group.generation,
      state: group.rebalancing || group.requested ? "rebalancing" : group.members.size === 0 ? "empty" : "stable",
      members
    }
  }

  groupFor(groupId: string): Effect.Effect<Group> {
    return Effect.suspend(() => {
      const existing = this.groups.get(groupId)
      if (existing !== undefined) return Effect.succeed(existing)
      const group = new Group(groupId)
      this.groups.set(groupId, group)
      return Effect.as(Effect.forkIn(Effect.interruptible(this.coordinator(group)), this.scope), group)
    })
  }

  // --- the ports --------------------------------------------------------------------------

  subscribe(
    subscription: Subscription,
    listener: GroupListener
  ): Effect.Effect<GroupSession, KafkaError.KafkaError, Scope.Scope> {
    const self = this
    return Effect.gen(function* () {
      if (subscription.groupId.length === 0) {
        return yield* Effect.fail(kafkaError("subscribe", "protocol", "groupId must not be empty"))
      }
      if (subscription.topics.length === 0) {
        return yield* Effect.fail(kafkaError("subscribe", "protocol", "subscribe to at least one topic"))
      }
      const group = yield* self.groupFor(subscription.groupId)
      const member = new Member(
        group,
        subscription,
        listener,
        millis(self.options.sessionTimeout ?? subscription.sessionTimeout),
        millis(self.options.rebalanceTimeout ?? subscription.rebalanceTimeout)
      )
      yield* Effect.acquireRelease(
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          group.sessions.add(member)
          for (const topic of subscription.topics) {
            const members = self.subscribers.get(topic) ?? new Set<Member>()
            self.subscribers.set(topic, members)
            members.add(member)
          }
          self.join(member, now, false)
          // Acquisition is uninterruptible and a fork inherits that: the loop must not.
          return Effect.forkDaemon(Effect.interruptible(self.memberLoop(member)))
        }),
        (fiber) =>
          Effect.zipRight(
            Fiber.interrupt(fiber),
            Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => self.leave(member, now)))
          )
      )
      const session: GroupSession = {
        commit: (offsets) =>
          offsets.length === 0
            ? Effect.void
            : Effect.flatMap(Clock.currentTimeMillis, (now) => {
                const error = self.commit(member, offsets, now)
                return error === undefined ? Effect.void : Effect.fail(error)
              }).pipe(Effect.withSpan("MemoryKafka.commit", { attributes: { groupId: group.id } })),
        pause: (partitions) =>
          Effect.sync(() => {
            for (const tp of partitions) {
              const fetching = member.fetching.get(TP.key(tp))
              if (fetching !== undefined) fetching.paused = true
            }
          }),
        resume: (partitions) =>
          Effect.sync(() => {
            let resumed = false
            for (const tp of partitions) {
              const fetching = member.fetching.get(TP.key(tp))
              if (fetching?.paused) {
                fetching.paused = false
                resumed = true
              }
            }
            if (resumed) member.wake.notify()
          }),
        memberId: Effect.sync(() => member.id),
        failed: Deferred.await(member.failed)
      }
      return session
    }).pipe(Effect.withSpan("MemoryKafka.subscribe", { attributes: { groupId: subscription.groupId } }))
  }

  // --- faults -----------------------------------------------------------------------------

  findMember(memberId: string, operation: string): Effect.Effect<Member, KafkaError.KafkaError> {
    return Effect.suspend(() => {
      const member = this.membersById.get(memberId)
      return member === undefined || member.id !== memberId
        ? Effect.fail(kafkaError(operation, "protocol", `no member ${memberId} (it may have rejoined under a new id)`))
        : Effect.succeed(member)
    })
  }

  crash(memberId: string): Effect.Effect<void, KafkaError.KafkaError> {
    const self = this
    return Effect.gen(function* () {
      const member = yield* self.findMember(memberId, "crash")
      const now = yield* Clock.currentTimeMillis
      if (member.status === "expelled") {
        // Between memberships: nothing to expire, the session is simply over.
        member.status = "dead"
        member.wake.notify()
        return
      }
      if (member.status !== "active") return
      member.status = "crashed"
      self.event(member.group, "crashed", now, member)
      self.changed.notify()
      const gone = member.gone
      yield* Effect.sleep(Duration.millis(member.sessionTimeout)).pipe(
        Effect.zipRight(Clock.currentTimeMillis),
        Effect.flatMap((at) =>
          Effect.sync(() => {
            if (member.gone === gone && member.status === "crashed") {
              self.expel(member, at, "dead", "sessionExpired", "no heartbeat within its session timeout")
            }
          })
        ),
        Effect.interruptible,
        Effect.forkIn(self.scope)
      )
    })
  }

  fence(memberId: string): Effect.Effect<void, KafkaError.KafkaError> {
    return Effect.flatMap(this.findMember(memberId, "fence"), (member) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sync(() =>
          this.expel(
            member,
            now,
            member.status === "crashed" ? "dead" : "expelled",
            "fenced",
            "fenced by the coordinator"
          )
        )
      )
    )
  }

  forceRebalance(groupId: string | undefined): Effect.Effect<void> {
    return Effect.sync(() => {
      for (const group of this.groups.values()) {
        if (groupId !== undefined && group.id !== groupId) continue
        if (group.members.size === 0) continue
        group.forced = true
        this.request(group)
      }
    })
  }
}

// -----------------------------------------------------------------------------------------
// Construction
// -----------------------------------------------------------------------------------------

export const make = (options: MemoryKafka.Options) =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const cluster = new Cluster(options, scope)

    const fromResult = <A>(
      result: A | KafkaError.KafkaError | undefined
    ): Effect.Effect<void, KafkaError.KafkaError> =>
      result instanceof KafkaError.KafkaError ? Effect.fail(result) : Effect.void

    const createTopic = (topic: string, partitions = options.partitions) =>
      Effect.suspend(() => fromResult(cluster.createTopic(topic, partitions))).pipe(
        Effect.withSpan("MemoryKafka.createTopic", { attributes: { topic, partitions } })
      )

    const produce = (records: ReadonlyArray<ProducerRecord>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const result = cluster.produce(records, now)
        return result instanceof KafkaError.KafkaError ? Effect.fail(result) : Effect.succeed(result)
      }).pipe(Effect.withSpan("MemoryKafka.send"))

    const topicOrFail = (topic: string, operation: string) =>
      Effect.suspend(() => {
        const found = cluster.topics.get(topic)
        return found === undefined
          ? Effect.fail(kafkaError(operation, "protocol", `unknown topic "${topic}"`))
          : Effect.succeed(found)
      })

    const endOffsets = (topic: string) =>
      Effect.map(
        topicOrFail(topic, "endOffsets"),
        (found): ReadonlyMap<number, number> =>
          new Map(found.partitions.map((log) => [log.partition, log.records.length]))
      )

    const committed = (groupId: string, topic: string) =>
      Effect.sync(() => {
        const out = new Map<number, MemoryKafka.CommittedOffset>()
        const group = cluster.groups.get(groupId)
        if (group === undefined) return out
        for (const [key, value] of group.committed) {
          const tp = TP.fromKey(key)
          if (tp.topic === topic) out.set(tp.partition, value)
        }
        return new Map([...out].sort((a, b) => a[0] - b[0]))
      })

    const byGroup =
      <A extends { readonly groupId: string }>(list: () => ReadonlyArray<A>, copy: (a: A) => A = (a) => a) =>
      (groupId?: string) =>
        Effect.sync(() =>
          list()
            .filter((e) => groupId === undefined || e.groupId === groupId)
            .map(copy)
        )

    const faults: MemoryKafka.Faults = {
      failCommits: (o = {}) =>
        Effect.sync(() => {
          const probability = o.probability ?? 1
          cluster.commitRules.push({
            remaining: o.times ?? (o.probability === undefined ? 1 : Number.POSITIVE_INFINITY),
            probability,
            error: o.error ?? "retriable",
            groupId: o.groupId,
            memberId: o.memberId
          })
        }),
      failFetches: (o) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.sync(() => {
            cluster.fetchRules.push({
              until: now + millis(o.duration),
              groupId: o.groupId,
              memberId: o.memberId,
              topic: o.topic
            })
          })
        ),
      crash: (memberId) => cluster.crash(memberId),
      fence: (memberId) => cluster.fence(memberId),
      forceRebalance: (groupId) => cluster.forceRebalance(groupId),
      rebalanceStorm: ({ groupId, interval, times }) =>
        Effect.forEach(
          Array.from({ length: times }, (_, i) => i),
          (i) =>
            Effect.zipRight(
              cluster.forceRebalance(groupId),
              i < times - 1 ? Effect.sleep(Duration.decode(interval)) : Effect.void
            ),
          { discard: true }
        ),
      clear: Effect.sync(() => {
        cluster.commitRules = []
        cluster.fetchRules = []
      })
    }

    const handle: MemoryKafka.Handle = {
      options,
      createTopic,
      createPartitions: (topic, partitions) =>
        Effect.suspend(() => fromResult(cluster.createPartitions(topic, partitions))),
      topics: Effect.sync(() => new Map(Array.from(cluster.topics.values(), (t) => [t.name, t.partitions.length]))),
      produce,
      records: (topic, partition) =>
        Effect.flatMap(topicOrFail(topic, "records"), (found) => {
          const log = found.partitions[partition]
          return log === undefined
            ? Effect.fail(kafkaError("records", "protocol", `unknown partition ${topic}-${partition}`))
            : Effect.succeed(log.records.slice())
        }),
      endOffsets,
      committed,
      group: (groupId) =>
        Effect.sync(() => {
          const group = cluster.groups.get(groupId)
          return group === undefined ? undefined : cluster.snapshot(group)
        }),
      awaitStable: (groupId) =>
        cluster.changed.until(() => {
          const group = cluster.groups.get(groupId)
          return group !== undefined && cluster.isStable(group) ? cluster.snapshot(group) : undefined
        }),
      ownerOf: (topic, partition, groupId) =>
        Effect.sync(() => {
          const key = TP.key({ topic, partition })
          for (const group of cluster.groups.values()) {
            if (groupId !== undefined && group.id !== groupId) continue
            const owner = group.owners.get(key)
            if (owner !== undefined) return owner.member.id
          }
          return undefined
        }),
      commitLog: byGroup(() => cluster.commitLog),
      rejectedCommits: byGroup(() => cluster.rejected),
      ownershipHistory: byGroup(
        () => cluster.ownership,
        (e) => ({ ...e })
      ),
      groupEvents: byGroup(() => cluster.events),
      faults
    }

    const consumer: ConsumerDriver["Type"] = {
      name: "memory",
      subscribe: (subscription, listener) => cluster.subscribe(subscription, listener)
    }

    const producer: ProducerDriver["Type"] = {
      name: "memory",
      send: produce,
      flush: Effect.void
    }

    const testCluster: TestCluster["Type"] = {
      name: "memory",
      createTopic: (topic, partitions) => createTopic(topic, partitions),
      produce: (records) => Effect.asVoid(produce(records)),
      committed: (groupId, topic) =>
        Effect.map(committed(groupId, topic), (map) => new Map(Array.from(map, ([p, c]) => [p, c.offset]))),
      endOffsets,
      readAll: (topic) =>
        Effect.map(topicOrFail(topic, "readAll"), (found) => found.partitions.flatMap((log) => log.records))
    }

    return { handle, consumer, producer, testCluster }
  })
