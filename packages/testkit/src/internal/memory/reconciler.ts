/**
 * KIP-848's consumer group protocol (`protocol: "consumer"`), the coordinator's side: no join
 * barrier and no generation that every member must enter together. A change of the group
 * (a member joins or leaves, a partition count grows, a forced rebalance) bumps the group
 * epoch and computes, on the coordinator, a target assignment for that epoch. Each member
 * then reconciles towards its target on its own, as its heartbeats would:
 *
 * - what it owns outside its target it must revoke first (`Revoke`; the member stays at its
 *   epoch until its `onRevoked` returned and the partitions are released, which its next
 *   heartbeat acknowledges);
 * - then its member epoch moves to the group epoch, with the partitions of its target that
 *   nobody holds any more (`Assign`, possibly empty); a partition still being revoked by its
 *   former owner is handed over later, once released, at the same epoch;
 * - a member whose target only grows, or does not change, is never asked to give anything up.
 *
 * A member that does not revoke within its rebalance timeout is fenced (its partitions are
 * lost); a crashed member keeps its partitions until its session expires, and the partitions
 * its target gives others wait for that. Heartbeats are instant here: a member hears of its
 * new target as soon as it is computed, and the coordinator of a release as soon as it happens.
 *
 * Owns: a group's `target` and, under this protocol, `generation` (the group epoch) and
 * `rebalancing` (some member has not reached its target); members' `revoking` and epochs
 * (`generation`); the coordinator adds ownerships, their end is `group.ts`'s.
 * May touch: members' inboxes (`Revoke`, `Assign`), memberships through `Membership` (a
 * member late with a revocation is fenced), the log's partition counts (read only), the
 * journal and the cluster's change notifier.
 */
import * as TP from "@sluice/core/TopicPartition"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as MemoryKafka from "../../MemoryKafka.js"
import { assign, byId } from "./assignor.js"
import { type Group, type Member, type Membership, makeDone, ownedBy } from "./group.js"
import type { Journal } from "./journal.js"
import type { Logs } from "./log.js"
import type { Notifier } from "./signal.js"

export class Reconciler {
  constructor(
    private readonly options: MemoryKafka.Options,
    private readonly scope: Scope.Scope,
    private readonly logs: Logs,
    private readonly membership: Membership,
    private readonly journal: Journal,
    private readonly changed: Notifier
  ) {}

  /** The group's coordinator fiber under this protocol. */
  run(group: Group): Effect.Effect<void> {
    const self = this
    return Effect.gen(function* () {
      for (;;) {
        const now = yield* Clock.currentTimeMillis
        self.membership.expireAway(group, now)
        if (group.requested) self.bumpEpoch(group, now)
        yield* self.reconcile(group, now)
        // A static member away is waited for until its session expires.
        let until = Number.POSITIVE_INFINITY
        for (const away of group.away.values()) until = Math.min(until, away.until)
        yield* until === Number.POSITIVE_INFINITY
          ? group.wake.await
          : Effect.raceFirst(group.wake.await, Effect.sleep(Duration.millis(Math.max(0, until - now))))
      }
    })
  }

  /** A new group epoch and its target assignment, from the members in the group now. */
  private bumpEpoch(group: Group, now: number): void {
    group.requested = false
    group.forced = false
    // A crashed member is still a member until its session expires: it keeps its share.
    const members = Array.from(group.members.values()).sort(byId)
    const partitions = new Map<string, number>()
    for (const member of members) {
      for (const topic of member.subscription.topics) {
        const count = this.logs.partitionCount(topic)
        if (count !== undefined) partitions.set(topic, count)
      }
    }
    // Sticky from the previous target, as Kafka's server-side assignors are: a member that is
    // still reconciling keeps its place instead of having it dealt again.
    group.target = assign(
      this.options.assignor,
      members.map((m) => ({ id: m.id, topics: m.subscription.topics, owned: group.target.get(m.id) ?? [] })),
      partitions
    )
    group.generation++
    if (!group.rebalancing) {
      group.rebalancing = true
      this.journal.event(group, "rebalanceStarted", now)
    }
    this.journal.event(group, "generation", now, undefined, undefined, `${members.length} member(s), group epoch`)
    this.changed.notify()
  }

  /** One heartbeat of every live member: what it must revoke, or what it may take now. */
  private reconcile(group: Group, now: number): Effect.Effect<void> {
    const self = this
    return Effect.gen(function* () {
      for (const member of Array.from(group.members.values()).sort(byId)) {
        // A crashed member sends no heartbeat; one busy revoking is waited for.
        if (member.status !== "active" || member.revoking !== undefined) continue
        const target = group.target.get(member.id) ?? []
        const keep = new Set(target.map(TP.key))
        const revoke = ownedBy(group, member).filter((tp) => !keep.has(TP.key(tp)))
        if (revoke.length > 0) {
          yield* self.revoke(group, member, revoke)
          continue
        }
        const added: Array<TP.TopicPartition> = []
        for (const tp of target) {
          const key = TP.key(tp)
          if (group.owners.has(key)) continue
          const entry = self.journal.own(group.id, tp, member.id, group.generation, now)
          group.owners.set(key, { member, entry })
          added.push(tp)
        }
        if (added.length === 0 && member.generation === group.generation) continue
        // The member's epoch moves to the group's; the engine hears of it even with nothing new.
        member.generation = group.generation
        member.inbox.push({ _tag: "Assign", partitions: added, generation: group.generation, done: makeDone() })
        member.wake.notify()
      }
      if (group.rebalancing && self.reached(group)) {
        group.rebalancing = false
        self.journal.event(group, "rebalanceCompleted", now)
      }
      self.changed.notify()
    })
  }

  /** Every partition is with its target owner and every live member is at the group epoch. */
  private reached(group: Group): boolean {
    if (group.requested) return false
    let targeted = 0
    for (const [id, partitions] of group.target) {
      const member = group.members.get(id)
      for (const tp of partitions) {
        if (member === undefined || group.owners.get(TP.key(tp))?.member !== member) return false
        targeted++
      }
    }
    if (targeted !== group.owners.size) return false
    for (const member of group.members.values()) {
      if (member.status !== "active") continue
      if (member.revoking !== undefined || member.generation !== group.generation) return false
    }
    return true
  }

  /**
   * Asks the member to revoke `partitions` and waits (in a fiber of its own: nobody else waits)
   * until it did, its membership ended, or its rebalance timeout passed: then it is fenced.
   */
  private revoke(group: Group, member: Member, partitions: ReadonlyArray<TP.TopicPartition>): Effect.Effect<void> {
    const done = makeDone()
    const gone = member.gone
    member.revoking = done
    member.inbox.push({ _tag: "Revoke", partitions, done })
    member.wake.notify()
    const waited = Deferred.await(done).pipe(
      Effect.raceFirst(Deferred.await(gone)),
      Effect.timeoutOption(Duration.millis(member.rebalanceTimeout)),
      Effect.flatMap((ok) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.sync(() => {
            // Still waited for: neither done, nor let go by a static leave or a rejoin.
            const waited = member.revoking === done
            if (waited) member.revoking = undefined
            if (Option.isNone(ok) && waited && member.gone === gone) {
              this.membership.fence(member, now, "expelled", "did not revoke within its rebalance timeout")
            }
            group.wake.notify()
          })
        )
      )
    )
    return Effect.asVoid(Effect.forkIn(waited, this.scope))
  }
}
