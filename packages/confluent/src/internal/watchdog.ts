/**
 * The rejoin watchdog: notices a member that has stayed out of its group too long, so that the
 * driver can replace its librdkafka client (`subscribe.ts`, `replaceClient`).
 *
 * Why: after a restart of the whole cluster (F5), a librdkafka consumer was once seen to keep a
 * request to its coordinator queued for minutes ("GroupCoordinator: Timed out 0 in-flight, 0
 * retry-queued, 1 out-queue" every 11 s) while every broker answered again: it never joined
 * again, and its partitions stayed with no one. A new client finds the coordinator afresh.
 *
 * What it reads: librdkafka's statistics (`statistics.interval.ms`), whose `cgrp` object holds
 * the group's state (`up` once the coordinator is known and connected) and its join state
 * (`steady` once an assignment was taken). A member is in its group when both hold.
 *
 * When it fires: the member owns no partition (nothing can be lost or committed twice by
 * replacing the client), has been out of its group for longer than `rejoinTimeout`, and the
 * cluster answers a metadata request (checked by the caller): an outage of the whole cluster
 * is waited out, since a new client could do no better.
 */

/** The group's state as librdkafka's statistics report it. */
export interface GroupState {
  /** `rd_kafka_cgrp_state_names`: `init`, `query-coord`, `wait-coord`, …, `up`. */
  readonly state: string
  /** `rd_kafka_cgrp_join_state_names`: `init`, `wait-join`, …, `steady`. */
  readonly joinState: string
}

const parseGroup = (json: string): GroupState | undefined => {
  const cgrp = (JSON.parse(json) as { cgrp?: { state?: unknown; join_state?: unknown } }).cgrp
  if (cgrp === undefined || typeof cgrp.state !== "string" || typeof cgrp.join_state !== "string") return undefined
  return { state: cgrp.state, joinState: cgrp.join_state }
}

/**
 * The `cgrp` part of a statistics JSON, or undefined when it has none (not a group member) or
 * is not JSON.
 *
 * The statistics describe every broker, topic and partition (about 1.5 KB per partition), and
 * `cgrp`, a flat object, comes after them (`rdkafka.c:2097-2119`): it is read from the text's
 * end first, so that a member of a thousand partitions does not parse megabytes every few
 * seconds. Anything unexpected there (a topic named `cgrp` is listed before it) falls back to
 * parsing the whole text.
 */
export const groupState = (statistics: string): GroupState | undefined => {
  try {
    const key = statistics.lastIndexOf('"cgrp"')
    const open = key < 0 ? -1 : statistics.indexOf("{", key)
    const close = open < 0 ? -1 : statistics.indexOf("}", open)
    if (close > 0) {
      try {
        const tail = parseGroup(`{"cgrp":${statistics.slice(open, close + 1)}}`)
        if (tail !== undefined) return tail
      } catch {
        // Not the flat object expected: read the whole text below.
      }
    }
    return parseGroup(statistics)
  } catch {
    return undefined
  }
}

/**
 * Whether the member is in its group: it has a coordinator (`up`) and, on the classic protocol,
 * took its assignment (`steady`). On the consumer protocol (KIP-848) a member the broker gave
 * nothing stays in join state `init` (librdkafka 2.15.1, seen on Kafka 4.4), so only the
 * coordinator counts there.
 */
export const inGroup = (state: GroupState, protocol: "classic" | "consumer"): boolean =>
  state.state === "up" && (protocol === "consumer" || state.joinState === "steady")

/**
 * How long a member has been out of its group, from the statistics it was shown, and whether
 * that is too long. After each replacement the timeout doubles until the member is in its group
 * again: a timeout shorter than a normal join would otherwise replace every new client before
 * it could join.
 */
export class Watchdog {
  /** When the member was last seen out of its group after being in it (or since the client started). */
  private outSince: number | undefined
  private last: GroupState | undefined
  private current: number

  constructor(
    /** How long out of the group is too long; infinite turns the watchdog off. */
    readonly timeout: number,
    readonly protocol: "classic" | "consumer",
    now: number
  ) {
    this.outSince = now
    this.current = timeout
  }

  /** Records a statistics report's group state at `now`. */
  observe(state: GroupState, now: number): void {
    this.last = state
    if (inGroup(state, this.protocol)) {
      this.outSince = undefined
      this.current = this.timeout
    } else if (this.outSince === undefined) this.outSince = now
  }

  /** The client was replaced (`backOff`: or a replacement was given up): the clock starts again at `now`. */
  restart(now: number, backOff: boolean): void {
    this.outSince = now
    this.last = undefined
    if (backOff) this.current = Math.min(this.current * 2, this.timeout * 16)
  }

  /** How long the member has been out of its group at `now` (0 while it is in). */
  outFor(now: number): number {
    return this.outSince === undefined ? 0 : now - this.outSince
  }

  /**
   * Whether the member, owning `owned` partitions, has been out of its group for longer than the
   * timeout. Only on what the statistics said since the client started: without them (a user's
   * `statistics.interval.ms` of 0) the watchdog never fires.
   */
  due(now: number, owned: number): boolean {
    return owned === 0 && this.last !== undefined && Number.isFinite(this.current) && this.outFor(now) > this.current
  }

  /** The last state reported, for the log line that says why the client was replaced. */
  describe(): string {
    return this.last === undefined ? "no statistics yet" : `state ${this.last.state}, join state ${this.last.joinState}`
  }
}
