/**
 * The health of a consumer's group members (`Health.ts` holds the types and the rules).
 *
 * Nothing here is on the engine's path: a member's tracker wraps the listener the driver calls
 * (assignment, revocation, loss; `onRecords` is handed through untouched) and the session the
 * engine commits through, and reads the driver's own activity (`GroupSession.activity`) only
 * when someone asks for the health. So the engine needs no hook, and the state follows what
 * the driver reported, in the driver's order.
 *
 * Owns: each tracker's state, assigned and stalled sets and commit times, written by the
 * wrappers (one listener call at a time, per the port) and by the run's end; the registry's
 * list of trackers, written when a run starts.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { GroupListener, GroupSession, SessionActivity } from "../ConsumerDriver.js"
import * as Health from "../Health.js"
import * as TP from "../TopicPartition.js"

const noActivity: SessionActivity = { lastPoll: undefined, lastHeartbeat: undefined }

const seconds = (millis: number): string => `${(millis / 1000).toFixed(1)} s`

export interface MemberTimeouts {
  readonly sessionTimeout: Duration.Duration
  readonly rebalanceTimeout: Duration.Duration
}

/** One run's member. */
export class MemberTracker {
  state: Health.MemberState = "joining"
  stateSince: number
  readonly assigned = new Map<string, TP.TopicPartition>()
  /**
   * Filled by stall detection (`stall` / `unstall`): each stalled partition with the start of
   * its oldest stalled record still running when it was reported. A partition is cleared only
   * when all its stalled records ended, so in `keyed` and `unordered` modes `since` may be older
   * than the stalled records left: the bound errs towards not live.
   */
  readonly stalled = new Map<string, { readonly tp: TP.TopicPartition; readonly since: number }>()
  /**
   * Assigned partitions the engine stopped processing on its own (their transactional producer
   * could not commit), with when: they wait for the group's next rebalance, which revokes them
   * or assigns them again.
   */
  readonly abandoned = new Map<string, { readonly tp: TP.TopicPartition; readonly since: number }>()
  lastCommit: number | undefined = undefined
  commitFailures = 0
  private session: GroupSession | undefined = undefined

  constructor(
    readonly groupId: string,
    readonly topics: ReadonlyArray<string>,
    readonly timeouts: MemberTimeouts,
    now: number
  ) {
    this.stateSince = now
  }

  private enter(state: Health.MemberState, now: number): void {
    if (this.state === state || this.state === "stopped") return
    this.state = state
    this.stateSince = now
  }

  private at(f: (now: number) => void): Effect.Effect<void> {
    return Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => f(now)))
  }

  /** The driver's listener calls, seen on their way to the engine's. */
  listener(inner: GroupListener): GroupListener {
    return {
      onAssigned: (partitions) =>
        Effect.zipRight(
          inner.onAssigned(partitions),
          this.at((now) => {
            for (const a of partitions) {
              this.assigned.set(TP.key(a.topicPartition), a.topicPartition)
              this.abandoned.delete(TP.key(a.topicPartition))
            }
            this.enter("stable", now)
          })
        ),
      onRevoked: (partitions) =>
        Effect.zipRight(
          this.at((now) => this.enter("rebalancing", now)),
          Effect.ensuring(inner.onRevoked(partitions), this.forget(partitions))
        ),
      onLost: (partitions) =>
        Effect.zipRight(
          this.at((now) => this.enter("joining", now)),
          Effect.ensuring(inner.onLost(partitions), this.forget(partitions))
        ),
      onRecords: inner.onRecords,
      positions: inner.positions,
      prepare: inner.prepare
    }
  }

  private forget(partitions: ReadonlyArray<TP.TopicPartition>): Effect.Effect<void> {
    return Effect.sync(() => {
      for (const tp of partitions) {
        this.assigned.delete(TP.key(tp))
        this.stalled.delete(TP.key(tp))
        this.abandoned.delete(TP.key(tp))
      }
    })
  }

  /** The engine stopped processing these partitions on its own; the group has not moved them yet. */
  abandon(partitions: ReadonlyArray<TP.TopicPartition>): Effect.Effect<void> {
    return this.at((now) => {
      for (const tp of partitions) {
        const key = TP.key(tp)
        if (this.assigned.has(key) && !this.abandoned.has(key)) this.abandoned.set(key, { tp, since: now })
      }
    })
  }

  /** The session the engine commits through, with each commit's outcome recorded. */
  wrapSession(inner: GroupSession): GroupSession {
    this.session = inner
    return {
      ...inner,
      commit: (offsets) =>
        inner.commit(offsets).pipe(
          Effect.tapBoth({
            onFailure: () => Effect.sync(() => this.commitFailures++),
            onSuccess: () =>
              this.at((now) => {
                this.lastCommit = now
                this.commitFailures = 0
              })
          })
        )
    }
  }

  /** Stall detection's report: `tp`'s in-flight record, started at `since`, ran past its stall timeout. */
  stall(tp: TP.TopicPartition, since: number): void {
    const key = TP.key(tp)
    if (!this.assigned.has(key)) return
    const known = this.stalled.get(key)
    if (known === undefined || since < known.since) this.stalled.set(key, { tp, since })
  }

  /** `tp`'s stalled record ended (or was interrupted). */
  unstall(tp: TP.TopicPartition): void {
    this.stalled.delete(TP.key(tp))
  }

  stop(now: number): void {
    this.state = "stopped"
    this.stateSince = now
    this.assigned.clear()
    this.stalled.clear()
    this.abandoned.clear()
  }

  snapshot(now: number, rules: Health.Rules): Effect.Effect<Health.MemberHealth> {
    const session = this.session
    const running = session !== undefined && this.state !== "stopped"
    return Effect.all([
      running ? session.memberId : Effect.succeed(undefined),
      running && session.activity !== undefined ? session.activity : Effect.succeed(noActivity)
    ]).pipe(Effect.map(([memberId, activity]) => this.evaluate(now, rules, memberId, activity)))
  }

  private evaluate(
    now: number,
    rules: Health.Rules,
    memberId: string | undefined,
    activity: SessionActivity
  ): Health.MemberHealth {
    const problems: Array<string> = []
    let live = true
    const inState = now - this.stateSince
    const sinceFetch = activity.lastPoll === undefined ? undefined : Math.max(0, now - activity.lastPoll)
    const sinceHeartbeat = activity.lastHeartbeat === undefined ? undefined : Math.max(0, now - activity.lastHeartbeat)
    const ready = this.state === "stable"
    if (!ready) problems.push(`not ready: ${this.state} for ${seconds(inState)}`)
    if (this.state === "stopped") live = false
    const rebalanceWithin =
      rules.rebalanceWithin === undefined
        ? Duration.toMillis(this.timeouts.rebalanceTimeout) * 2
        : Duration.toMillis(rules.rebalanceWithin)
    if ((this.state === "joining" || this.state === "rebalancing") && inState > rebalanceWithin) {
      live = false
      problems.push(`not live: ${this.state} for ${seconds(inState)} (limit ${seconds(rebalanceWithin)})`)
    }
    if (this.state === "stable" && activity.lastPoll !== undefined) {
      // A rebalance stops fetching: count from the arrival in `stable` when that is later.
      const quiet = now - Math.max(activity.lastPoll, this.stateSince)
      const fetchWithin = Duration.toMillis(rules.fetchWithin)
      if (quiet > fetchWithin) {
        live = false
        problems.push(`not live: no fetch for ${seconds(quiet)} (limit ${seconds(fetchWithin)})`)
      }
    }
    if ((this.state === "stable" || this.state === "rebalancing") && activity.lastHeartbeat !== undefined) {
      const quiet = now - Math.max(activity.lastHeartbeat, this.stateSince)
      const heartbeatWithin = Duration.toMillis(rules.heartbeatWithin ?? this.timeouts.sessionTimeout)
      if (quiet > heartbeatWithin) {
        live = false
        problems.push(`not live: no heartbeat for ${seconds(quiet)} (limit ${seconds(heartbeatWithin)})`)
      }
    }
    let oldest: { readonly tp: TP.TopicPartition; readonly since: number } | undefined
    for (const s of this.stalled.values()) if (oldest === undefined || s.since < oldest.since) oldest = s
    const stalledMillis = oldest === undefined ? undefined : Math.max(0, now - oldest.since)
    if ((this.state === "stable" || this.state === "rebalancing") && stalledMillis !== undefined) {
      const stalledWithin = Duration.toMillis(rules.stalledWithin ?? Health.defaultRules.stalledWithin!)
      if (stalledMillis > stalledWithin) {
        live = false
        const more = this.stalled.size > 1 ? ` (${this.stalled.size} partitions stalled)` : ""
        problems.push(
          `not live: ${TP.format(oldest!.tp)} stalled for ${seconds(stalledMillis)} (limit ${seconds(stalledWithin)})${more}`
        )
      }
    }
    let idle: { readonly tp: TP.TopicPartition; readonly since: number } | undefined
    for (const a of this.abandoned.values()) if (idle === undefined || a.since < idle.since) idle = a
    if (idle !== undefined && this.state !== "stopped" && now - idle.since > rebalanceWithin) {
      live = false
      const more = this.abandoned.size > 1 ? ` (${this.abandoned.size} partitions)` : ""
      problems.push(
        `not live: ${TP.format(idle.tp)} not processed for ${seconds(now - idle.since)} since its transaction failed, waiting for a rebalance (limit ${seconds(rebalanceWithin)})${more}`
      )
    }
    return {
      groupId: this.groupId,
      topics: this.topics,
      memberId,
      state: this.state,
      inStateMillis: inState,
      assigned: Array.from(this.assigned.values()).sort(TP.order),
      stalled: Array.from(this.stalled.values(), (s) => s.tp).sort(TP.order),
      stalledMillis,
      abandoned: Array.from(this.abandoned.values(), (a) => a.tp).sort(TP.order),
      sinceFetchMillis: sinceFetch,
      sinceHeartbeatMillis: sinceHeartbeat,
      sinceCommitMillis: this.lastCommit === undefined ? undefined : now - this.lastCommit,
      commitFailures: this.commitFailures,
      ready,
      live,
      problems
    }
  }
}

/** A consumer's members: one per run, a stopped one kept until a run of its group replaces it. */
export class HealthRegistry {
  private members: Array<MemberTracker> = []

  start(groupId: string, topics: ReadonlyArray<string>, timeouts: MemberTimeouts): Effect.Effect<MemberTracker> {
    return Effect.map(Clock.currentTimeMillis, (now) => {
      const tracker = new MemberTracker(groupId, topics, timeouts, now)
      this.members = this.members.filter((m) => m.state !== "stopped" || m.groupId !== groupId)
      this.members.push(tracker)
      return tracker
    })
  }

  /** Marks the run's member stopped; kept so that a probe sees why the consumer is not live. */
  stop(tracker: MemberTracker): Effect.Effect<void> {
    return Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => tracker.stop(now)))
  }

  /** Every running member; stall detection reports through these. */
  get running(): ReadonlyArray<MemberTracker> {
    return this.members.filter((m) => m.state !== "stopped")
  }

  health(rules: Partial<Health.Rules> = {}): Effect.Effect<Health.Health> {
    const all: Health.Rules = { ...Health.defaultRules, ...rules }
    return Effect.gen(this, function* () {
      const now = yield* Clock.currentTimeMillis
      const members = yield* Effect.forEach(this.members, (m) => m.snapshot(now, all))
      members.sort(
        (a, b) =>
          Number(a.state === "stopped") - Number(b.state === "stopped") ||
          (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0)
      )
      const problems = members.flatMap((m) => m.problems.map((p) => `${m.groupId}: ${p}`))
      return {
        ready: members.length > 0 && members.every((m) => m.ready),
        live: members.every((m) => m.live),
        problems: members.length === 0 ? ["not ready: no consumer run started"] : problems,
        members
      }
    })
  }
}
