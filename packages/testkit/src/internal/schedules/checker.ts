/**
 * The model checker of the fault schedules: it sees every handler call, every listener call
 * and every commit attempt of every member, in one sequence, at the moment each happens, and
 * checks the guarantees of docs/guarantees.md against what it saw. Most checks run online, inside the
 * event that could break them; the ones that need the whole story (G7's attribution of a
 * duplicate, G3) run at the end.
 *
 * "Live" handling: a member that crashed is a dead process, so what its handlers finish after
 * the crash never happened for G1, G3 and G7 (its commits are refused anyway).
 */
import type { OffsetAndMetadata, PartitionAssignment } from "@sluice/core/ConsumerDriver"
import type { RawRecord } from "@sluice/core/ConsumerRecord"
import * as OffsetMetadata from "@sluice/core/OffsetMetadata"
import type { TopicPartition } from "@sluice/core/TopicPartition"
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"

export type Guarantee = "G1" | "G2" | "G3" | "G4" | "G5" | "G6" | "G7" | "G8" | "cluster"

export interface Violation {
  readonly guarantee: Guarantee
  /** The step (0-based) after which it was seen; `steps.length` for the final phase. */
  readonly step: number
  readonly time: number
  readonly message: string
}

export interface Timings {
  readonly drainTimeout: number
  readonly shutdownTimeout: number
  readonly retrySpacing: number
}

export interface CheckerOptions {
  readonly mode: "partition" | "keyed" | "unordered"
  readonly concurrency: number
  readonly revocation: "drain" | "interrupt"
  readonly bufferPerPartition: number
  readonly maxBatchSize: number
  readonly timings: Timings
  readonly trace: boolean
}

/** A member under test, as the checker knows it: one engine (one `Consumer.run`). */
export interface MemberView {
  readonly name: string
  /** The coordinator's current id of this member (it changes when it is fenced). */
  memberId: string | undefined
  crashedAt: number | undefined
  leavingAt: number | undefined
  sessionClosed: boolean
  readonly assignments: Map<number, Assignment>
}

/** One partition owned by one member, from its `onAssigned` to the end of its revocation or loss. */
export interface Assignment {
  readonly id: number
  readonly member: MemberView
  readonly partition: number
  readonly alreadyFinished: ReadonlySet<number>
  revokingSince: number | undefined
  losing: boolean
  end: "revoked" | "lost" | "left" | undefined
  readonly running: Set<Call>
  lastCall: Call | undefined
  readonly lastByKey: Map<string, Call>
  lastAccepted: number
  lastAttemptFailed: boolean
  delivered: number
  started: number
}

export interface Call {
  readonly id: number
  readonly member: MemberView
  readonly assignment: Assignment | undefined
  readonly partition: number
  readonly offset: number
  readonly key: string | undefined
  readonly startSeq: number
  readonly startTime: number
  /** How long the call takes if nothing interrupts it (retries included). */
  readonly duration: number
  /** The record was covered by the group's committed offset (or its metadata) when the call started. */
  readonly coveredAtStart: boolean
  endSeq: number | undefined
  outcome: "success" | "failure" | "interrupted" | "defect" | undefined
  finalized: boolean
}

interface Attempt {
  readonly member: MemberView
  readonly offsets: ReadonlyArray<OffsetAndMetadata>
  readonly assignments: ReadonlyArray<Assignment | undefined>
  /** Per offset: covered by live successes when the attempt started. */
  readonly liveOk: ReadonlyArray<boolean>
}

/** What the group has committed for a partition, as far as accepted commits tell. */
interface Committed {
  offset: number
  above: ReadonlySet<number>
}

class PartitionState {
  /** Offsets handled successfully by a live member / by anyone. */
  readonly live: Array<boolean> = []
  readonly any: Array<boolean> = []
  liveFrontier = 0
  anyFrontier = 0
  /** The first live success of each offset (for G7). */
  readonly firstLive = new Map<number, Call>()
  committed: Committed = { offset: 0, above: new Set() }

  markLive(offset: number): void {
    this.live[offset] = true
    while (this.live[this.liveFrontier] === true) this.liveFrontier++
  }

  markAny(offset: number): void {
    this.any[offset] = true
    while (this.any[this.anyFrontier] === true) this.anyFrontier++
  }

  covered(offset: number): boolean {
    return offset < this.committed.offset || this.committed.above.has(offset)
  }
}

const decoder = new TextDecoder()

export class Checker {
  seq = 0
  step = 0
  readonly violations: Array<Violation> = []
  readonly partitions: Array<PartitionState> = []
  readonly trace: Array<string> = []
  private nextCall = 0
  private nextAssignment = 0
  private readonly duplicates: Array<{ readonly first: Call; readonly again: Call }> = []
  stats = { calls: 0, successes: 0, duplicates: 0, interrupted: 0, commits: 0, failedCommits: 0 }

  constructor(
    readonly options: CheckerOptions,
    private readonly now: () => number
  ) {}

  partition(p: number): PartitionState {
    let state = this.partitions[p]
    if (state === undefined) {
      state = new PartitionState()
      this.partitions[p] = state
    }
    return state
  }

  violation(guarantee: Guarantee, message: string): void {
    this.violations.push({ guarantee, step: this.step, time: this.now(), message })
    this.log(`!! ${guarantee} ${message}`)
  }

  log(line: string): void {
    if (this.options.trace) this.trace.push(`#${this.seq} t=${this.now()} ${line}`)
  }

  // --- handler calls ----------------------------------------------------------------------

  start(member: MemberView, record: RawRecord, duration: number): Call {
    this.seq++
    const p = record.partition
    const assignment = member.assignments.get(p)
    const key = record.key === null ? undefined : decoder.decode(record.key)
    const call: Call = {
      id: this.nextCall++,
      member,
      assignment,
      partition: p,
      offset: record.offset,
      key,
      startSeq: this.seq,
      startTime: this.now(),
      duration,
      coveredAtStart: this.partition(p).covered(record.offset),
      endSeq: undefined,
      outcome: undefined,
      finalized: false
    }
    this.stats.calls++
    this.log(`${member.name} start p${p}@${record.offset}${key === undefined ? "" : ` key=${key}`} (${duration} ms)`)
    if (member.sessionClosed) {
      this.violation("G8", `${member.name} started p${p}@${record.offset} after its session closed`)
    }
    if (assignment === undefined) {
      this.violation(
        "G4",
        `${member.name} started p${p}@${record.offset} while it did not own p${p} (after its revocation or loss completed)`
      )
      return call
    }
    assignment.started++
    const limit = this.options.mode === "partition" ? 1 : this.options.concurrency
    if (assignment.running.size + 1 > limit) {
      this.violation(
        "G6",
        `${member.name} has ${assignment.running.size + 1} handlers of p${p} in flight (limit ${limit}): ${Array.from(
          assignment.running,
          (c) => c.offset
        ).join(", ")} and ${record.offset}`
      )
    }
    if (this.options.mode === "partition") {
      const last = assignment.lastCall
      if (last !== undefined && (last.endSeq === undefined || last.offset >= record.offset)) {
        this.violation(
          "G5",
          `${member.name} started p${p}@${record.offset} while p${p}@${last.offset} ${last.endSeq === undefined ? "was still running" : "came before it"} (partition order)`
        )
      }
    } else if (this.options.mode === "keyed" && key !== undefined) {
      const last = assignment.lastByKey.get(key)
      if (last !== undefined && (last.endSeq === undefined || last.offset >= record.offset)) {
        this.violation(
          "G5",
          `${member.name} started p${p}@${record.offset} (key ${key}) while p${p}@${last.offset} of the same key ${last.endSeq === undefined ? "was still running" : "came before it"}`
        )
      }
      assignment.lastByKey.set(key, call)
    }
    assignment.lastCall = call
    assignment.running.add(call)
    return call
  }

  end(call: Call, exit: Exit.Exit<unknown, unknown>): void {
    this.seq++
    call.endSeq = this.seq
    call.outcome = Exit.isSuccess(exit)
      ? "success"
      : Cause.isInterruptedOnly(exit.cause)
        ? "interrupted"
        : Cause.failureOption(exit.cause)._tag === "Some"
          ? "failure"
          : "defect"
    const member = call.member
    const assignment = call.assignment
    assignment?.running.delete(call)
    this.log(`${member.name} end p${call.partition}@${call.offset} ${call.outcome}`)
    this.checkDrainBound(call)
    const state = this.partition(call.partition)
    if (call.outcome === "success") {
      this.stats.successes++
      state.markAny(call.offset)
      if (member.crashedAt !== undefined) return
      const first = state.firstLive.get(call.offset)
      if (first === undefined) {
        state.firstLive.set(call.offset, call)
        state.markLive(call.offset)
        return
      }
      this.stats.duplicates++
      if (first.assignment !== undefined && first.assignment === assignment) {
        this.violation(
          "G7",
          `${member.name} handled p${call.partition}@${call.offset} twice in one assignment (calls ${first.id} and ${call.id})`
        )
      } else if (call.coveredAtStart) {
        this.violation(
          "G7",
          `${member.name} handled p${call.partition}@${call.offset} again although the group had committed past it when the call started (first handled by ${first.member.name})`
        )
      }
      this.duplicates.push({ first, again: call })
      return
    }
    if (call.outcome === "interrupted") {
      this.stats.interrupted++
      if (!call.finalized) {
        this.violation(
          "G4",
          `the finalizer of ${member.name}'s interrupted call p${call.partition}@${call.offset} did not run`
        )
      }
      this.checkInterruption(call)
    }
  }

  /**
   * The drains a call may be subject to: its partition's revocation, and its member's
   * shutdown (graceful, or the one a crashed process's fiber runs when it is interrupted).
   * When both apply, the one that began first is in force, which the checker cannot always
   * tell (they may begin at the same instant): a call is then judged by the more lenient.
   */
  private drainsOf(call: Call): Array<{ readonly since: number; readonly timeout: number; readonly what: string }> {
    const member = call.member
    const assignment = call.assignment
    const { drainTimeout, shutdownTimeout } = this.options.timings
    const drains: Array<{ readonly since: number; readonly timeout: number; readonly what: string }> = []
    if (assignment?.revokingSince !== undefined) {
      drains.push({
        since: assignment.revokingSince,
        timeout: this.options.revocation === "drain" ? drainTimeout : 0,
        what: "revocation"
      })
    }
    const stopping = member.crashedAt ?? member.leavingAt
    if (stopping !== undefined) {
      const half = shutdownTimeout / 2
      drains.push({
        since: stopping,
        timeout: this.options.revocation === "drain" ? Math.min(drainTimeout, half) : half,
        what: "shutdown"
      })
    }
    return drains
  }

  /** G4/G8: a drain ends in time: what still runs at its timeout is interrupted then. */
  private checkDrainBound(call: Call): void {
    const drains = this.drainsOf(call)
    const ended = this.now()
    if (drains.length === 0 || drains.some((d) => ended <= d.since + d.timeout)) return
    const drain = drains[0]!
    this.violation(
      drain.what === "revocation" ? "G4" : "G8",
      `${call.member.name}'s call p${call.partition}@${call.offset} ran until t=${ended} ms, past the ${drain.what} that began at t=${drain.since} ms with a drain timeout of ${drain.timeout} ms`
    )
  }

  /**
   * G7 (drain): a call may be interrupted by a loss, a crash, the `interrupt` strategy, or a
   * drain that timed out; a drain (revocation or shutdown) must not cut short a call that
   * would have finished within its timeout.
   */
  private checkInterruption(call: Call): void {
    const member = call.member
    const assignment = call.assignment
    if (member.crashedAt !== undefined) return
    if (assignment === undefined || assignment.losing || assignment.end === "lost") return
    const drains = this.drainsOf(call)
    if (drains.length === 0) {
      this.violation(
        "G7",
        `${member.name}'s call p${call.partition}@${call.offset} was interrupted outside any revocation, loss or shutdown`
      )
      return
    }
    const remaining = (d: { readonly since: number }) => call.startTime + call.duration - d.since
    if (drains.some((d) => remaining(d) >= d.timeout)) return
    const drain = drains[0]!
    this.violation(
      "G7",
      `${member.name}'s call p${call.partition}@${call.offset} was interrupted by a draining ${drain.what} although it needed only ${remaining(drain)} ms more (drain timeout ${drain.timeout} ms): the drain did not wait`
    )
  }

  // --- listener calls ---------------------------------------------------------------------

  assigned(member: MemberView, partitions: ReadonlyArray<PartitionAssignment>): void {
    this.seq++
    this.log(
      `${member.name} onAssigned ${partitions.map((a) => `p${a.topicPartition.partition}${a.committed === undefined ? "" : `@${a.committed.offset}`}`).join(" ")}`
    )
    for (const a of partitions) {
      const p = a.topicPartition.partition
      const previous = member.assignments.get(p)
      if (previous !== undefined) {
        this.violation("cluster", `${member.name} was assigned p${p} again while it still owned it`)
      }
      const committed = a.committed
      member.assignments.set(p, {
        id: this.nextAssignment++,
        member,
        partition: p,
        alreadyFinished: new Set(
          committed === undefined ? [] : OffsetMetadata.decode(committed.offset, committed.metadata)
        ),
        revokingSince: undefined,
        losing: false,
        end: undefined,
        running: new Set(),
        lastCall: undefined,
        lastByKey: new Map(),
        lastAccepted: -1,
        lastAttemptFailed: false,
        delivered: 0,
        started: 0
      })
    }
  }

  revoking(member: MemberView, partitions: ReadonlyArray<TopicPartition>): void {
    this.seq++
    this.log(`${member.name} onRevoked ${partitions.map((tp) => `p${tp.partition}`).join(" ")}`)
    for (const tp of partitions) {
      const assignment = member.assignments.get(tp.partition)
      if (assignment !== undefined && assignment.revokingSince === undefined) assignment.revokingSince = this.now()
    }
  }

  revoked(member: MemberView, partitions: ReadonlyArray<TopicPartition>): void {
    this.seq++
    this.log(`${member.name} revoked ${partitions.map((tp) => `p${tp.partition}`).join(" ")}`)
    for (const tp of partitions) this.endAssignment(member, tp.partition, "revoked")
  }

  losing(member: MemberView, partitions: ReadonlyArray<TopicPartition>): void {
    this.seq++
    this.log(`${member.name} onLost ${partitions.map((tp) => `p${tp.partition}`).join(" ")}`)
    for (const tp of partitions) {
      const assignment = member.assignments.get(tp.partition)
      if (assignment !== undefined) assignment.losing = true
    }
  }

  lost(member: MemberView, partitions: ReadonlyArray<TopicPartition>): void {
    this.seq++
    this.log(`${member.name} lost ${partitions.map((tp) => `p${tp.partition}`).join(" ")}`)
    for (const tp of partitions) this.endAssignment(member, tp.partition, "lost")
  }

  /** The engine finished its shutdown and the session is about to leave the group. */
  sessionClosing(member: MemberView): void {
    this.seq++
    this.log(`${member.name} session closing`)
    for (const p of Array.from(member.assignments.keys())) this.endAssignment(member, p, "left")
    member.sessionClosed = true
  }

  private endAssignment(member: MemberView, p: number, end: "revoked" | "lost" | "left"): void {
    const assignment = member.assignments.get(p)
    if (assignment === undefined) return
    assignment.end = end
    member.assignments.delete(p)
    if (assignment.running.size > 0 && member.crashedAt === undefined) {
      const what = end === "revoked" ? "revocation" : end === "lost" ? "loss" : "shutdown"
      this.violation(
        end === "left" ? "G8" : "G4",
        `${member.name}'s ${what} of p${p} completed while its handler(s) of ${Array.from(
          assignment.running,
          (c) => `p${p}@${c.offset}`
        ).join(", ")} still ran`
      )
    }
  }

  records(member: MemberView, tp: TopicPartition, records: ReadonlyArray<RawRecord>): void {
    const assignment = member.assignments.get(tp.partition)
    // Once a partition is leaving (revocation, loss, shutdown) the engine drops what arrives.
    if (assignment === undefined || assignment.revokingSince !== undefined || assignment.losing) return
    if (member.leavingAt !== undefined || member.crashedAt !== undefined) return
    for (const record of records) if (!assignment.alreadyFinished.has(record.offset)) assignment.delivered++
    // G6: a full buffer pauses the partition, so what waits to start is bounded by the
    // buffer limit plus one fetch (and, in keyed mode, the records held for a busy key).
    const waiting = assignment.delivered - assignment.started
    const held =
      this.options.mode === "keyed" ? Math.max(this.options.concurrency * 4, this.options.bufferPerPartition) : 0
    const bound = this.options.bufferPerPartition - 1 + this.options.maxBatchSize + held
    if (waiting > bound) {
      this.violation(
        "G6",
        `${member.name} has ${waiting} records of p${tp.partition} delivered and not started (bound ${bound}: buffer ${this.options.bufferPerPartition}, fetch ${this.options.maxBatchSize}): the partition was not paused`
      )
    }
  }

  // --- commits ----------------------------------------------------------------------------

  commitStart(member: MemberView, offsets: ReadonlyArray<OffsetAndMetadata>): Attempt {
    this.seq++
    this.log(
      `${member.name} commit ${offsets.map((o) => `p${o.partition}@${o.offset}${o.metadata ? `+[${OffsetMetadata.decode(o.offset, o.metadata).join(",")}]` : ""}`).join(" ")}`
    )
    const assignments: Array<Assignment | undefined> = []
    const liveOk: Array<boolean> = []
    for (const o of offsets) {
      const assignment = member.assignments.get(o.partition)
      assignments.push(assignment)
      if (assignment === undefined) {
        this.violation(
          "G2",
          `${member.name} tried to commit p${o.partition}@${o.offset} after its revocation or loss of p${o.partition} completed`
        )
      }
      const state = this.partition(o.partition)
      const above = OffsetMetadata.decode(o.offset, o.metadata)
      if (o.offset > state.anyFrontier) {
        this.violation(
          "G1",
          `${member.name} tried to commit p${o.partition}@${o.offset} but p${o.partition}@${state.anyFrontier} was never handled successfully`
        )
      }
      const unfinished = above.filter((x) => state.any[x] !== true)
      if (unfinished.length > 0) {
        this.violation(
          "G1",
          `${member.name}'s commit of p${o.partition}@${o.offset} names ${unfinished.join(", ")} as finished in its metadata, but they were never handled successfully`
        )
      }
      liveOk.push(o.offset <= state.liveFrontier && above.every((x) => state.live[x] === true))
    }
    return { member, offsets, assignments, liveOk }
  }

  commitEnd(attempt: Attempt, exit: Exit.Exit<unknown, unknown>): void {
    this.seq++
    const { assignments, member, offsets } = attempt
    this.log(`${member.name} commit ${Exit.isSuccess(exit) ? "accepted" : "failed"}`)
    if (Exit.isFailure(exit)) {
      this.stats.failedCommits++
      for (const assignment of assignments) if (assignment !== undefined) assignment.lastAttemptFailed = true
      return
    }
    this.stats.commits++
    offsets.forEach((o, i) => {
      const state = this.partition(o.partition)
      if (!attempt.liveOk[i]) {
        this.violation(
          "G1",
          `${member.name}'s commit of p${o.partition}@${o.offset} was accepted although not every record it passes was handled successfully by a live member`
        )
      }
      const assignment = assignments[i]
      if (assignment !== undefined) {
        if (o.offset < assignment.lastAccepted) {
          this.violation(
            "G2",
            `${member.name} committed p${o.partition}@${o.offset} after p${o.partition}@${assignment.lastAccepted} in the same assignment`
          )
        }
        assignment.lastAccepted = Math.max(assignment.lastAccepted, o.offset)
        assignment.lastAttemptFailed = false
      }
      state.committed = { offset: o.offset, above: new Set(OffsetMetadata.decode(o.offset, o.metadata)) }
    })
  }

  // --- the end ------------------------------------------------------------------------------

  /**
   * G7 (attribution): a record handled again must have been left uncommitted by an owner that
   * was lost, crashed, or whose last commit failed; a drained revocation or a graceful
   * shutdown commits everything it finished.
   */
  attributeDuplicates(): void {
    for (const { again, first } of this.duplicates) {
      const assignment = first.assignment
      if (assignment === undefined) continue
      if (assignment.end === "lost" || assignment.losing || first.member.crashedAt !== undefined) continue
      if (assignment.lastAttemptFailed) continue
      this.violation(
        "G7",
        `${again.member.name} handled p${again.partition}@${again.offset} again, although ${first.member.name} had handled it in an assignment that ended cleanly (${assignment.end ?? "still open"}) with its last commit accepted`
      )
    }
  }
}
