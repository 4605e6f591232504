/**
 * Fault injection: scripted commit failures, fetch outages, crashes, fencing and forced
 * rebalances, as `MemoryKafka.Faults` exposes them. Random commit failures draw from the
 * cluster's seeded generator, so they replay with the seed.
 *
 * Owns: the commit and fetch rules (commits and the poll loop ask them), and the timer that
 * expires a crashed member's session.
 * May touch: a member's status (`crashed`, or `dead` between memberships) and wake-up
 * signal, memberships through `Membership` (a fenced member or an expired session is
 * expelled), the groups' `forced` flag, the journal, the seeded generator and the cluster's
 * change notifier.
 */
import type * as KafkaError from "@sluice/core/KafkaError"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as MemoryKafka from "../../MemoryKafka.js"
import type { Coordinator } from "./coordinator.js"
import { kafkaError } from "./errors.js"
import type { Group, Member, Membership } from "./group.js"
import type { Journal } from "./journal.js"
import type { Prng } from "./prng.js"
import type { Notifier } from "./signal.js"

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

export class Faults {
  private commitRules: Array<CommitRule> = []
  private fetchRules: Array<FetchRule> = []

  constructor(
    private readonly scope: Scope.Scope,
    private readonly coordinator: Coordinator,
    private readonly membership: Membership,
    private readonly journal: Journal,
    private readonly prng: Prng,
    private readonly changed: Notifier
  ) {}

  /** The injected failure of `member`'s next commit, if a rule applies (the rule is used up). */
  commitFault(group: Group, member: Member): KafkaError.KafkaError | undefined {
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

  /** Whether any fetch outage is scheduled: the poll loop's fast path skips the checks when not. */
  get blocksFetches(): boolean {
    return this.fetchRules.length > 0
  }

  /** Drops the fetch outages that are over at `now`. */
  expireFetchRules(now: number): void {
    this.fetchRules = this.fetchRules.filter((rule) => rule.until > now)
  }

  /** Until when `member` may not fetch `topic` (0: it may). */
  fetchBlocked(member: Member, topic: string): number {
    let until = 0
    for (const rule of this.fetchRules) {
      if (rule.groupId !== undefined && rule.groupId !== member.group.id) continue
      if (rule.memberId !== undefined && rule.memberId !== member.id) continue
      if (rule.topic !== undefined && rule.topic !== topic) continue
      if (rule.until > until) until = rule.until
    }
    return until
  }

  private findMember(memberId: string, operation: string): Effect.Effect<Member, KafkaError.KafkaError> {
    return Effect.suspend(() => {
      const member = this.membership.membersById.get(memberId)
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
      self.journal.event(member.group, "crashed", now, member)
      self.changed.notify()
      const gone = member.gone
      yield* Effect.sleep(Duration.millis(member.sessionTimeout)).pipe(
        Effect.zipRight(Clock.currentTimeMillis),
        Effect.flatMap((at) =>
          Effect.sync(() => {
            if (member.gone === gone && member.status === "crashed") {
              self.membership.expel(member, at, "dead", "sessionExpired", "no heartbeat within its session timeout")
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
        Effect.sync(() => this.membership.fence(member, now, "fenced", "fenced by the coordinator"))
      )
    )
  }

  forceRebalance(groupId: string | undefined): Effect.Effect<void> {
    return Effect.sync(() => {
      for (const group of this.coordinator.groups.values()) {
        if (groupId !== undefined && group.id !== groupId) continue
        if (group.members.size === 0) continue
        group.forced = true
        this.membership.request(group)
      }
    })
  }

  /** The faults as `MemoryKafka.Faults` exposes them. */
  /** The faults of the public handle but transactions' (`handle.ts` adds those, from `transactions.ts`). */
  handle(): Omit<MemoryKafka.Faults, "failTransactions"> {
    return {
      failCommits: (o = {}) =>
        Effect.sync(() => {
          const probability = o.probability ?? 1
          this.commitRules.push({
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
            this.fetchRules.push({
              until: now + Duration.toMillis(o.duration),
              groupId: o.groupId,
              memberId: o.memberId,
              topic: o.topic
            })
          })
        ),
      crash: (memberId) => this.crash(memberId),
      fence: (memberId) => this.fence(memberId),
      forceRebalance: (groupId) => this.forceRebalance(groupId),
      rebalanceStorm: ({ groupId, interval, times }) =>
        Effect.forEach(
          Array.from({ length: times }, (_, i) => i),
          (i) =>
            Effect.zipRight(
              this.forceRebalance(groupId),
              i < times - 1 ? Effect.sleep(Duration.decode(interval)) : Effect.void
            ),
          { discard: true }
        ),
      clear: Effect.sync(() => {
        this.commitRules = []
        this.fetchRules = []
      })
    }
  }
}
