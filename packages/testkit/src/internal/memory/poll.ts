/**
 * The poll loop: one fiber per member, forked by `subscribe`, that makes every listener
 * call of that member one at a time, as a real client's poll thread does. It takes the
 * coordinator's controls first (revoke, assign, lost), rejoins after an expulsion, and
 * otherwise delivers a batch of each owned, unpaused partition in partition order; an idle
 * loop sleeps until records, a resume or a control wake it.
 *
 * Owns: a member's `fetching` (positions and pauses; `pause`/`resume` of the session only
 * flip `paused`), `busy` and `blockedUntil`, and the member's inbox from the reading end.
 * May touch: memberships through `Membership` (the end of a revoked ownership, a rejoin,
 * the end of a session whose listener died), `Done` of the controls it completes, the
 * journal and the cluster's change notifier. It reads the log, the committed offsets and
 * the fetch outages of `Faults`.
 */
import type { PartitionAssignment } from "@sluice/core/ConsumerDriver"
import * as KafkaError from "@sluice/core/KafkaError"
import * as TP from "@sluice/core/TopicPartition"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as MemoryKafka from "../../MemoryKafka.js"
import type { Commits } from "./commits.js"
import type { Faults } from "./faults.js"
import { type Control, type Fetching, type Member, type Membership, release } from "./group.js"
import type { Journal } from "./journal.js"
import type { Logs } from "./log.js"
import type { Notifier } from "./signal.js"

export class PollLoop {
  private readonly pollInterval: number

  constructor(
    private readonly options: MemoryKafka.Options,
    private readonly logs: Logs,
    private readonly membership: Membership,
    private readonly commits: Commits,
    private readonly faults: Faults,
    private readonly journal: Journal,
    private readonly changed: Notifier
  ) {
    this.pollInterval = Duration.toMillis(options.pollInterval)
  }

  private nextControl(member: Member): Control | undefined {
    if (member.status === "active" || member.status === "expelled") return member.inbox.shift()
    // A crashed process does nothing; a dead one's engine still learns that it lost everything.
    const index = member.inbox.findIndex((c) => c._tag === "Lost")
    return index < 0 ? undefined : member.inbox.splice(index, 1)[0]
  }

  run(member: Member): Effect.Effect<void> {
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
          self.membership.bury(member)
          return
        }
        if (member.status === "expelled") {
          self.membership.join(member, yield* Clock.currentTimeMillis, true)
          continue
        }
        if (member.status !== "active") {
          yield* member.wake.await
          continue
        }
        const delivered = yield* self.deliver(member)
        const now = yield* Clock.currentTimeMillis
        // A round that met a fetch outage is a failed fetch, not a completed one.
        if (member.blockedUntil === undefined) member.lastPoll = now
        if (delivered > 0) {
          yield* self.pollInterval > 0 ? Effect.sleep(self.pollInterval) : Effect.yieldNow()
        } else if (member.blockedUntil !== undefined) {
          yield* Effect.raceFirst(member.wake.await, Effect.sleep(Math.max(0, member.blockedUntil - now)))
        } else {
          member.idle = true
          yield* Effect.ensuring(
            member.wake.await,
            Effect.sync(() => {
              member.idle = false
            })
          )
        }
      }
    }).pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause)
          : Effect.flatMap(Clock.currentTimeMillis, (now) =>
              Effect.sync(() => {
                // The listener died: the client is gone, as if its process had exited.
                this.membership.leave(member, now)
                this.membership.bury(
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

  /**
   * One round: a batch of each owned, unpaused partition with records, in partition order. A
   * chain of effects rather than `Effect.gen`: a generator per round holds the batches it
   * delivered, and a generator per delivery kept every batch alive through young collections in
   * the librdkafka driver (`docs/benchmarks.md`, workload 1 over librdkafka).
   */
  private deliver(member: Member): Effect.Effect<number> {
    return Effect.suspend(() => {
      member.blockedUntil = undefined
      if (!this.faults.blocksFetches) return this.deliverFrom(member, member.fetching.values(), 0)
      return Effect.flatMap(Clock.currentTimeMillis, (now) => {
        this.faults.expireFetchRules(now)
        return this.deliverFrom(member, member.fetching.values(), 0)
      })
    })
  }

  /** The rest of a round: the partitions `fetching` has not given yet; `delivered` so far. */
  private deliverFrom(member: Member, fetching: Iterator<Fetching>, delivered: number): Effect.Effect<number> {
    const maxBytes = member.subscription.maxBytesPerPartition
    for (let next = fetching.next(); !next.done; next = fetching.next()) {
      const partition = next.value
      if (partition.paused) continue
      const log = partition.log
      const from = partition.position
      // An outage fails the fetch whether records wait or not (health probes see it).
      if (this.faults.blocksFetches) {
        const until = this.faults.fetchBlocked(member, partition.tp.topic)
        if (until > 0) {
          member.blockedUntil = member.blockedUntil === undefined ? until : Math.min(member.blockedUntil, until)
          continue
        }
      }
      // read_committed: nothing at or past the first record of an open transaction.
      const end = log.open.size === 0 ? log.records.length : log.stableEnd()
      if (from >= end) continue
      const to = Math.min(end, log.batchEnd(from, this.options.maxBatchSize, maxBytes))
      partition.position = to
      const batch = log.readCommitted(from, to)
      const total = delivered + (to - from)
      // A rebalance or a crash is handled before anything else is delivered.
      const goOn = () =>
        member.inbox.length > 0 || member.status !== "active"
          ? Effect.succeed(total)
          : this.deliverFrom(member, fetching, total)
      return batch.length > 0
        ? Effect.flatMap(member.listener.onRecords(partition.tp, batch, log.records.length), goOn)
        : goOn()
    }
    return Effect.succeed(delivered)
  }

  private handle(member: Member, control: Control): Effect.Effect<void> {
    const self = this
    const group = member.group
    return Effect.gen(function* () {
      switch (control._tag) {
        case "Revoke": {
          for (const tp of control.partitions) member.fetching.delete(TP.key(tp))
          self.journal.event(group, "revoking", yield* Clock.currentTimeMillis, member, control.partitions)
          yield* member.listener.onRevoked(control.partitions)
          const now = yield* Clock.currentTimeMillis
          if (member.status === "active" && member.inGroup) {
            // Ownership lasts through onRevoked, so its final commit is accepted; it ends here.
            release(group, member, control.partitions, "revoked", now)
            self.journal.event(group, "revoked", now, member, control.partitions)
            Deferred.unsafeDone(control.done, Exit.void)
          } else {
            self.journal.event(group, "revoked", now, member, control.partitions, "too late: no longer a member")
          }
          return
        }
        case "Assign": {
          // Classic: an assignment of an earlier generation is void. KIP-848 has no generations
          // to wait for: every assignment the member's membership received stands.
          const stale = self.options.protocol !== "consumer" && control.generation !== group.generation
          if (stale || !member.inGroup || member.status !== "active") {
            Deferred.unsafeDone(control.done, Exit.void)
            return
          }
          // Before the committed offsets are read, as librdkafka's driver does: an exactly-once
          // pipeline opens its producers there (fencing former owners).
          const fresh = control.partitions.filter((tp) => !member.fetching.has(TP.key(tp)))
          if (member.listener.prepare !== undefined && fresh.length > 0) yield* member.listener.prepare(fresh)
          const given: Array<PartitionAssignment> = []
          const committedOffsets = self.commits.ofGroup(group.id)
          for (const tp of control.partitions) {
            const key = TP.key(tp)
            const log = self.logs.log(tp.topic, tp.partition)
            if (log === undefined || group.owners.get(key)?.member !== member) continue
            const committed = committedOffsets?.get(key)
            given.push({
              topicPartition: tp,
              committed:
                committed === undefined ? undefined : { offset: committed.offset, metadata: committed.metadata }
            })
          }
          // An external offset store says where they start instead (G10); a failure kills the
          // member, as a client whose listener died.
          const assignments =
            member.listener.positions === undefined || given.length === 0
              ? given
              : yield* Effect.orDie(member.listener.positions(given))
          for (const { committed, topicPartition: tp } of assignments) {
            const log = self.logs.log(tp.topic, tp.partition)!
            // An offset past the log end is out of range: reset as the subscription says.
            const position =
              committed !== undefined && committed.offset <= log.records.length
                ? committed.offset
                : member.subscription.startFrom === "earliest"
                  ? 0
                  : log.records.length
            member.fetching.set(TP.key(tp), { tp, log, position, paused: false })
          }
          self.journal.event(group, "assigning", yield* Clock.currentTimeMillis, member, control.partitions)
          yield* member.listener.onAssigned(assignments)
          self.journal.event(group, "assigned", yield* Clock.currentTimeMillis, member, control.partitions)
          Deferred.unsafeDone(control.done, Exit.void)
          return
        }
        case "Lost": {
          const lost = Array.from(member.fetching.values(), (f) => f.tp)
          member.fetching.clear()
          if (lost.length === 0) return
          self.journal.event(group, "lost", yield* Clock.currentTimeMillis, member, lost)
          yield* member.listener.onLost(lost)
          return
        }
      }
    })
  }
}
