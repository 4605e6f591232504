/**
 * Groups and their members: who is in a group, what each member owns in the coordinator's
 * view, and the transitions of a membership (join, leave, expulsion, the end of a crashed
 * member's session). The rebalances themselves run in `coordinator.ts`.
 *
 * Owns: `Group` and `Member` state, except the parts that belong to a member's poll loop
 * (`fetching`, `busy`, `blockedUntil`: see `poll.ts`); the topic → members index that wakes
 * poll loops; every member id ever given.
 * May touch: a member's inbox (a `Lost` on expulsion) and wake-up signal, the journal (events,
 * the end of ownerships), the seeded generator (member ids) and the cluster's change notifier.
 */
import type { GroupListener, Subscription } from "@sluice/core/ConsumerDriver"
import type * as KafkaError from "@sluice/core/KafkaError"
import * as TP from "@sluice/core/TopicPartition"
import * as Deferred from "effect/Deferred"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import type * as MemoryKafka from "../../MemoryKafka.js"
import { type Assignment, byId } from "./assignor.js"
import { kafkaError } from "./errors.js"
import type { Journal, OpenOwnership } from "./journal.js"
import type { LogListener, PartitionLog } from "./log.js"
import type { Prng } from "./prng.js"
import { type Notifier, Signal } from "./signal.js"

/** What the coordinator (and an expulsion) asks of a member's poll loop. */
export type Control =
  | { readonly _tag: "Revoke"; readonly partitions: ReadonlyArray<TP.TopicPartition>; readonly done: Done }
  | {
      readonly _tag: "Assign"
      readonly partitions: ReadonlyArray<TP.TopicPartition>
      readonly generation: number
      readonly done: Done
    }
  | { readonly _tag: "Lost" }

export type Done = Deferred.Deferred<void>

export const makeDone = (): Done => Deferred.unsafeMake<void>(FiberId.none)

/** A partition in the member's own view: where its fetching stands. */
export interface Fetching {
  readonly tp: TP.TopicPartition
  readonly log: PartitionLog
  position: number
  paused: boolean
}

export class Member {
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
  /** When the poll loop last finished a round (health probes read it). */
  lastPoll: number | undefined = undefined
  /** The poll loop waits for records, a resume or a control: a long poll, not a stuck loop. */
  idle = false
  /**
   * Consumer protocol: the revocation the coordinator waits for (completed once the member's
   * `onRevoked` returned and it released the partitions, as its next heartbeat would say).
   */
  revoking: Done | undefined = undefined

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

export interface Ownership {
  readonly member: Member
  readonly entry: OpenOwnership
}

export class Group {
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
  readonly wake = new Signal()
  /**
   * Consumer protocol (KIP-848): the target assignment of the group epoch (`generation`),
   * computed by the coordinator; members reconcile towards it one heartbeat at a time.
   */
  target: Assignment = new Map()
  /**
   * Consumer protocol: static members that left for a while (epoch -2), by instance id, and
   * when their session expires. They stay members and keep their assignment until then.
   */
  readonly away = new Map<string, { readonly member: Member; readonly until: number }>()

  constructor(readonly id: string) {}
}

/** What `member` owns in the coordinator's view, in topic-partition order. */
export const ownedBy = (group: Group, member: Member): Array<TP.TopicPartition> => {
  const out: Array<TP.TopicPartition> = []
  for (const ownership of group.owners.values()) {
    if (ownership.member === member) out.push({ topic: ownership.entry.topic, partition: ownership.entry.partition })
  }
  return out.sort(TP.order)
}

/** Ends the ownership of `partitions` (all when undefined) by `member`, if it still holds them. */
export const release = (
  group: Group,
  member: Member,
  partitions: ReadonlyArray<TP.TopicPartition> | undefined,
  end: MemoryKafka.OwnershipEnd,
  now: number
): void => {
  const keys = partitions === undefined ? Array.from(group.owners.keys()) : partitions.map(TP.key)
  for (const key of keys) {
    const ownership = group.owners.get(key)
    if (ownership === undefined || ownership.member !== member) continue
    ownership.entry.until = now
    ownership.entry.end = end
    group.owners.delete(key)
  }
}

/** No rebalance runs or is due, and every live member has processed its assignment. */
export const isStable = (group: Group): boolean => {
  if (group.rebalancing || group.requested) return false
  for (const member of group.sessions) {
    if (member.status === "crashed" || member.status === "dead") continue
    if (member.status !== "active") return false
    if (member.busy || member.inbox.length > 0 || member.generation !== group.generation) return false
  }
  return true
}

export const snapshot = (group: Group): MemoryKafka.GroupSnapshot => {
  const members = Array.from(group.members.values())
    .sort(byId)
    .map(
      (m): MemoryKafka.MemberSnapshot => ({
        memberId: m.id,
        clientId: m.subscription.clientId,
        status: m.status,
        generation: m.generation,
        topics: m.subscription.topics.slice(),
        assigned: ownedBy(group, m)
      })
    )
  return {
    groupId: group.id,
    generation: group.generation,
    state: group.rebalancing || group.requested ? "rebalancing" : group.members.size === 0 ? "empty" : "stable",
    members
  }
}

/** The transitions of memberships, across groups. */
export class Membership implements LogListener {
  /** Members subscribed to a topic, to wake their poll loops when records arrive. */
  private readonly subscribers = new Map<string, Set<Member>>()
  /** Every member id ever given, so faults can name a member that has since left. */
  readonly membersById = new Map<string, Member>()

  constructor(
    private readonly protocol: MemoryKafka.Options["protocol"],
    private readonly journal: Journal,
    private readonly prng: Prng,
    private readonly changed: Notifier
  ) {}

  partitionsChanged(topic: string): void {
    const members = this.subscribers.get(topic)
    if (members === undefined) return
    for (const group of new Set(Array.from(members, (m) => m.group))) this.request(group)
  }

  appended(topic: string): void {
    const members = this.subscribers.get(topic)
    if (members !== undefined) for (const member of members) member.wake.notify()
  }

  request(group: Group): void {
    group.requested = true
    group.wake.notify()
    this.changed.notify()
  }

  private newMemberId(clientId: string): string {
    for (;;) {
      const id = `${clientId}-${this.prng.hex8()}`
      if (!this.membersById.has(id)) return id
    }
  }

  /** A session opened: the member is known to its group and woken by its topics' records. */
  open(member: Member): void {
    member.group.sessions.add(member)
    for (const topic of member.subscription.topics) {
      const members = this.subscribers.get(topic) ?? new Set<Member>()
      this.subscribers.set(topic, members)
      members.add(member)
    }
  }

  join(member: Member, now: number, rejoin: boolean): void {
    // Under KIP-848 the client keeps its member id and rejoins with epoch 0; a classic
    // member fenced out of its group gets a new id from the coordinator.
    const consumer = this.protocol === "consumer"
    if (!(consumer && rejoin && member.id !== "")) member.id = this.newMemberId(member.subscription.clientId)
    member.status = "active"
    member.generation = consumer ? 0 : -1
    member.revoking = undefined
    member.gone = makeDone()
    member.group.members.set(member.id, member)
    this.membersById.set(member.id, member)
    const instanceId = consumer ? member.subscription.groupInstanceId : undefined
    const away = instanceId === undefined ? undefined : member.group.away.get(instanceId)
    if (away !== undefined) {
      this.takeOver(member, away.member, now)
      return
    }
    this.journal.event(member.group, "joined", now, member, undefined, rejoin ? "rejoined after expulsion" : undefined)
    this.request(member.group)
  }

  /**
   * Consumer protocol: the static member whose instance id is held by a live member, if any
   * (a second process with the same id is refused until the first one left or expired).
   */
  instanceHolder(group: Group, instanceId: string | undefined): Member | undefined {
    if (this.protocol !== "consumer" || instanceId === undefined) return undefined
    for (const m of group.members.values()) {
      if (m.subscription.groupInstanceId === instanceId && m.status !== "left") return m
    }
    return undefined
  }

  /**
   * KIP-848: a static member back within its session timeout replaces the one that left, with
   * its assignment as it stands, and nothing else in the group changes: no new group epoch, no
   * partition moves. Its engine gets the partitions with `onAssigned`.
   */
  private takeOver(member: Member, former: Member, now: number): void {
    const group = member.group
    group.away.delete(member.subscription.groupInstanceId!)
    group.members.delete(former.id)
    Deferred.unsafeDone(former.gone, Exit.void)
    const target = group.target.get(former.id)
    group.target.delete(former.id)
    if (target !== undefined) group.target.set(member.id, target)
    const inherited = ownedBy(group, former)
    release(group, former, inherited, "left", now)
    this.journal.event(group, "joined", now, member, undefined, `static member: takes over ${former.id}'s assignment`)
    for (const tp of inherited) {
      const entry = this.journal.own(group.id, tp, member.id, group.generation, now)
      group.owners.set(TP.key(tp), { member, entry })
    }
    member.generation = group.generation
    member.inbox.push({ _tag: "Assign", partitions: inherited, generation: group.generation, done: makeDone() })
    member.wake.notify()
    group.wake.notify()
    this.changed.notify()
  }

  /** Consumer protocol: a static member away longer than its session timeout is out for good. */
  expireAway(group: Group, now: number): void {
    for (const [instanceId, away] of group.away) {
      if (away.until > now) continue
      group.away.delete(instanceId)
      const member = away.member
      if (!member.inGroup) continue
      group.members.delete(member.id)
      group.target.delete(member.id)
      // Its engine drained and committed them when it left: nothing was lost.
      release(group, member, undefined, "left", now)
      Deferred.unsafeDone(member.gone, Exit.void)
      this.journal.event(group, "sessionExpired", now, member, undefined, "static member did not come back")
      this.request(group)
    }
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
    group.target.delete(member.id)
    release(group, member, undefined, "lost", now)
    // Under KIP-848 the client still holds its stale epoch until it learns of the fencing:
    // a commit it sends meanwhile carries that epoch and is rejected.
    if (this.protocol !== "consumer") member.generation = -1
    member.status = next
    Deferred.unsafeDone(member.gone, Exit.void)
    member.inbox = member.inbox.filter((c) => c._tag === "Lost")
    member.inbox.push({ _tag: "Lost" })
    this.journal.event(group, type, now, member, undefined, detail)
    if (next === "dead" && !member.hasFiber) this.bury(member)
    member.wake.notify()
    this.request(group)
  }

  /**
   * Expels a member the coordinator gave up on: a crashed member's process is gone, so it is
   * dead; any other rejoins.
   */
  fence(member: Member, now: number, type: MemoryKafka.GroupEventType, detail: string): void {
    this.expel(member, now, member.status === "crashed" ? "dead" : "expelled", type, detail)
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
    const instanceId = this.protocol === "consumer" ? member.subscription.groupInstanceId : undefined
    if (instanceId !== undefined && member.inGroup && member.status === "active") {
      // KIP-848's static leave (epoch -2): still a member, its assignment kept for its session
      // timeout; only what it had still to revoke is let go.
      const keep = new Set((group.target.get(member.id) ?? []).map(TP.key))
      release(
        group,
        member,
        ownedBy(group, member).filter((tp) => !keep.has(TP.key(tp))),
        "left",
        now
      )
      member.generation = -2
      member.revoking = undefined
      group.away.set(instanceId, { member, until: now + member.sessionTimeout })
      this.journal.event(
        group,
        "left",
        now,
        member,
        undefined,
        "static member: keeps its assignment for its session timeout"
      )
      group.wake.notify()
    } else if (member.inGroup) {
      group.members.delete(member.id)
      group.target.delete(member.id)
      release(group, member, undefined, "left", now)
      Deferred.unsafeDone(member.gone, Exit.void)
      this.journal.event(group, "left", now, member)
      this.request(group)
    }
    member.status = "left"
    member.inbox = []
    group.sessions.delete(member)
    this.unsubscribe(member)
    this.changed.notify()
  }
}
