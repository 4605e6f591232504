/**
 * What a contestant of workload 1 is given and what it reports.
 */

export interface ContestantArgs {
  readonly topic: string
  /** A fresh group: every run consumes the whole topic from the beginning. */
  readonly groupId: string
  /** Records in the topic: the run ends when this many were handled. */
  readonly records: number
  /** Profiles the consumption into this `.cpuprofile` file (Sluice only). */
  readonly profile?: string | undefined
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
