/**
 * The group coordinator: one fiber per group, forked in the cluster's scope when the group
 * is first named, that runs the rebalances. A rebalance has a join phase (eager: everyone
 * gives up everything; both protocols wait for a crashed member until its session expires or
 * the rebalance timeout passes), an assignment by the configured assignor, a cooperative
 * revocation of only what moves, and a sync phase that opens the next generation, records the
 * new ownerships and hands every member its assignment. Under KIP-848's consumer protocol
 * the group's fiber is `reconciler.ts`'s instead: no join barrier, no shared generation.
 *
 * Owns: the registry of groups; a group's generation, `rebalancing`, `requested` and
 * `forced` flags and, with `group.ts`, its `owners` (the coordinator adds ownerships; their
 * end is `group.ts`'s).
 * May touch: members' inboxes and generations (it sends `Revoke` and `Assign`), memberships
 * through `Membership` (a member late for a rebalance is expelled), the log's partition
 * counts (read only), the journal and the cluster's change notifier.
 */
import * as TP from "@sluice/core/TopicPartition"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as MemoryKafka from "../../MemoryKafka.js"
import { assign } from "./assignor.js"
import { type Done, Group, type Member, type Membership, makeDone, ownedBy } from "./group.js"
import type { Journal } from "./journal.js"
import type { Logs } from "./log.js"
import { Reconciler } from "./reconciler.js"
import type { Notifier } from "./signal.js"

export class Coordinator {
  readonly groups = new Map<string, Group>()
  private readonly reconciler: Reconciler | undefined

  constructor(
    private readonly options: MemoryKafka.Options,
    private readonly scope: Scope.Scope,
    private readonly logs: Logs,
    private readonly membership: Membership,
    private readonly journal: Journal,
    private readonly changed: Notifier
  ) {
    this.reconciler =
      options.protocol === "consumer" ? new Reconciler(options, scope, logs, membership, journal, changed) : undefined
  }

  /** The group named `groupId`, created with its coordinator fiber on first use. */
  groupFor(groupId: string): Effect.Effect<Group> {
    return Effect.suspend(() => {
      const existing = this.groups.get(groupId)
      if (existing !== undefined) return Effect.succeed(existing)
      const group = new Group(groupId)
      this.groups.set(groupId, group)
      return Effect.as(Effect.forkIn(Effect.interruptible(this.coordinator(group)), this.scope), group)
    })
  }

  private coordinator(group: Group): Effect.Effect<void> {
    if (this.reconciler !== undefined) return this.reconciler.run(group)
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
      self.journal.event(group, "rebalanceStarted", yield* Clock.currentTimeMillis)
      self.changed.notify()

      // Join phase. Eager: everyone gives up everything first. Both: a crashed member is
      // waited for until its session expires or the rebalance timeout passes.
      yield* Effect.forEach(
        Array.from(group.members.values()),
        (member) => {
          if (member.status === "crashed") return self.awaitCrashed(member)
          if (!eager) return Effect.void
          const owned = ownedBy(group, member)
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
          const count = self.logs.partitionCount(topic)
          if (count !== undefined) partitions.set(topic, count)
        }
      }
      const target = assign(
        self.options.assignor,
        joined.map((m) => ({ id: m.id, topics: m.subscription.topics, owned: ownedBy(group, m) })),
        partitions
      )

      // Cooperative: only what moves is revoked; it is handed out below, once released.
      if (!eager) {
        yield* Effect.forEach(
          joined,
          (member) => {
            const keep = new Set(target.get(member.id)!.map(TP.key))
            const revoked = ownedBy(group, member).filter((tp) => !keep.has(TP.key(tp)))
            return revoked.length === 0 ? Effect.void : self.revokeAndWait(member, revoked)
          },
          { concurrency: "unbounded", discard: true }
        )
      }

      // Sync phase.
      const now = yield* Clock.currentTimeMillis
      const generation = ++group.generation
      self.journal.event(group, "generation", now, undefined, undefined, `${joined.length} member(s)`)
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
          const entry = self.journal.own(group.id, tp, member.id, generation, now)
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
      self.journal.event(group, "rebalanceCompleted", yield* Clock.currentTimeMillis)
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
        this.membership.fence(member, now, "expelled", "did not rejoin within its rebalance timeout")
      })
    )
  }
}
