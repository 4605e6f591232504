/**
 * What a contestant of workload 1 is given and what it reports.
 */
import { now, peakRss } from "../lib/common.js"
import { committedTotal } from "../lib/kafka.js"
import type { ObservabilityVariant } from "../lib/tracers.js"

export interface ContestantArgs {
  readonly topic: string
  /** A fresh group: every run consumes the whole topic from the beginning. */
  readonly groupId: string
  /** Records in the topic: the run ends when this many were handled. */
  readonly records: number
  /** Profiles the consumption into this `.cpuprofile` file (Sluice only). */
  readonly profile?: string | undefined
  /**
   * Sluice only: its metrics and tracer (the observability benchmark, issue 15). Unset: the
   * defaults (metrics on, no tracer).
   */
  readonly observability?: ObservabilityVariant | undefined
}

export interface ContestantResult {
  /** Records handled (at least `records`; more only if something was redelivered). */
  readonly records: number
  /** From the first record received to the last one handled: the figure ratios use. */
  readonly seconds: number
  /** From before connecting (so with the group join) to the last record handled. */
  readonly totalSeconds: number
  readonly peakRssBytes: number
  /** The group's committed offsets summed over the partitions after the run (-1: not known). */
  readonly committed: number
}

/**
 * Counts a contestant's records and times them the same way for every contestant: from the
 * first record received to the last one handled, and from the tally's creation (before
 * connecting) to that last record.
 */
export class Tally {
  readonly started = now()
  first = 0
  last = 0
  count = 0

  constructor(
    readonly records: number,
    /** Called once, when the last record was handled. */
    private readonly onDone: () => void
  ) {}

  /** Records arrived: the first arrival starts the clock. */
  received(): void {
    if (this.first === 0) this.first = now()
  }

  /** A record was handled. */
  handled(): void {
    if (this.count === 0) this.received()
    if (++this.count === this.records) {
      this.last = now()
      this.onDone()
    }
  }

  /**
   * The run's result: its figures, taken before checking the commits can add to the peak
   * RSS, then the group's committed offsets.
   */
  async report(groupId: string, topic: string): Promise<ContestantResult> {
    const measured = {
      records: this.count,
      seconds: (this.last - this.first) / 1000,
      totalSeconds: (this.last - this.started) / 1000,
      peakRssBytes: peakRss()
    }
    return { ...measured, committed: await committedTotal(groupId, topic) }
  }
}
