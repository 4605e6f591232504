/**
 * A consumer's health, for readiness and liveness probes: each group member's state (joining,
 * stable, rebalancing, stopped), its assigned and stalled partitions, and how long ago its
 * client fetched, heartbeated and committed, with the verdicts `ready` and `live` and the
 * problems behind them. `Consumer.health()` reads it from the running consumer (a `Pipeline`
 * runs on one, so the same call covers pipelines).
 *
 * The rules:
 * - **ready** — at least one member runs and every member is `stable`: it took part in the
 *   last rebalance and holds its assignment (an empty one counts: a member of a group with
 *   more members than partitions is ready).
 * - **live** — no member `stopped`; none in `joining` or `rebalancing` for longer than
 *   `rebalanceWithin`; a `stable` member's client fetched within `fetchWithin` (counted from
 *   the later of its last fetch and its arrival in `stable`); a member in the group
 *   heartbeated within `heartbeatWithin`; no partition of a member in the group stalled
 *   (stall detection, O3) for longer than `stalledWithin`; no partition abandoned (its
 *   exactly-once transaction failed for good, and the group has not moved it) for longer than
 *   `rebalanceWithin`. A check whose time the driver does
 *   not report is skipped. A consumer that has not started a run yet is live and not ready.
 *
 * Stalls and the verdicts: a stall alone changes neither. `stallTimeout` is the bound that
 * reports a record (and may interrupt it, which ends the stall); liveness, which a probe
 * answers with a restart of the whole process (every partition's work lost and rebalanced), has
 * its own, longer bound, `stalledWithin` (5 minutes by default, Karafka's `consuming_ttl`): a
 * record stuck past it means the consumer cannot recover by itself. Readiness is about the
 * group (a stalled member still holds, and must keep, its assignment), so stalls never make a
 * member not ready.
 *
 * @example
 * ```ts
 * import { Consumer } from "@sluice/core"
 * import * as Effect from "effect/Effect"
 *
 * // In a probe's handler: 200 when live, 503 with the problems otherwise.
 * const liveness = Effect.map(Consumer.health(), (health) =>
 *   health.live ? { status: 200, body: "ok" } : { status: 503, body: health.problems.join("\n") }
 * )
 * ```
 *
 * @since 0.2.0
 */
import * as Duration from "effect/Duration"
import type { TopicPartition } from "./TopicPartition.js"

/**
 * Where a group member stands:
 * - `joining`: subscribed, waiting for its first assignment (or for a new one after it lost
 *   its partitions);
 * - `stable`: in the group with its assignment, consuming;
 * - `rebalancing`: a rebalance took partitions away (their work drains) and the member waits
 *   for the new assignment;
 * - `stopped`: the run ended (shut down, or failed).
 *
 * @since 0.2.0
 */
export type MemberState = "joining" | "stable" | "rebalancing" | "stopped"

/**
 * One group member of the consumer (one `Consumer.run`, `runBatch`, stream or pipeline run).
 * Times are milliseconds; a `since…` field is undefined when it never happened or the driver
 * does not report it.
 *
 * @since 0.2.0
 */
export interface MemberHealth {
  readonly groupId: string
  readonly topics: ReadonlyArray<string>
  /** The id the coordinator gave (undefined before the first join, or where the client does not say). */
  readonly memberId: string | undefined
  readonly state: MemberState
  /** How long the member has been in `state`. */
  readonly inStateMillis: number
  /** The partitions this member owns, in topic-partition order. */
  readonly assigned: ReadonlyArray<TopicPartition>
  /**
   * Owned partitions whose in-flight record has run longer than the pipeline's stall timeout
   * (stall detection reports them; empty where it is off).
   */
  readonly stalled: ReadonlyArray<TopicPartition>
  /**
   * How long the longest-stalled partition has been stalled: since its oldest stalled record
   * (or chunk) started, while any of its records is stalled; undefined when none is. Past
   * `Rules.stalledWithin` the member is not live.
   */
  readonly stalledMillis: number | undefined
  /**
   * Assigned partitions this member stopped processing on its own: an exactly-once
   * pipeline's transaction on them failed for good (timed out, outcome unknown), so they were
   * treated as lost, but the group still counts them as this member's until its next rebalance.
   * Longer than `Rules.rebalanceWithin`, the member is not live: a restart hands them on.
   */
  readonly abandoned: ReadonlyArray<TopicPartition>
  /** Since the client's poll loop last completed a fetch (an empty one counts). */
  readonly sinceFetchMillis: number | undefined
  /** Since the client last heartbeated to the group's coordinator. */
  readonly sinceHeartbeatMillis: number | undefined
  /** Since the last successful offset commit. */
  readonly sinceCommitMillis: number | undefined
  /** Offset commits that failed since the last one that succeeded. */
  readonly commitFailures: number
  readonly ready: boolean
  readonly live: boolean
  /** Why the member is not ready or not live, one sentence each. */
  readonly problems: ReadonlyArray<string>
}

/**
 * The consumer's health: the verdicts over all its members, the problems behind them and
 * each member's part. Plain data: `JSON.stringify` serves it as a probe's body.
 *
 * @since 0.2.0
 */
export interface Health {
  readonly ready: boolean
  readonly live: boolean
  /** Every member's problems, each prefixed with the member's group. */
  readonly problems: ReadonlyArray<string>
  /** Running members first, then stopped ones, by group id. */
  readonly members: ReadonlyArray<MemberHealth>
}

/**
 * The limits of the liveness rule. Each may be given alone (`Consumer.health({ fetchWithin: "2 minutes" })`).
 *
 * @since 0.2.0
 */
export interface Rules {
  /** A stable member's client must have fetched within this. Default 60 seconds. */
  readonly fetchWithin: Duration.DurationInput
  /**
   * A member in the group must have heartbeated within this. Default: the consumer's
   * `sessionTimeout` (after it the coordinator expels the member anyway).
   */
  readonly heartbeatWithin?: Duration.DurationInput | undefined
  /**
   * How long a member may stay `joining` or `rebalancing`. Default: twice the consumer's
   * `rebalanceTimeout` (the coordinator gives up on a member after one).
   */
  readonly rebalanceWithin?: Duration.DurationInput | undefined
  /**
   * How long a partition of a member in the group may stay stalled (O3: its record in flight
   * past the pipeline's `stallTimeout`), counted from the stalled record's start. Default 5
   * minutes. Only pipelines with a `stallTimeout` report stalls.
   */
  readonly stalledWithin?: Duration.DurationInput | undefined
}

/**
 * The default rules.
 *
 * @since 0.2.0
 */
export const defaultRules: Rules = { fetchWithin: Duration.seconds(60), stalledWithin: Duration.minutes(5) }
