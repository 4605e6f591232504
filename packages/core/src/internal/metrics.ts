/**
 * What the engine reports about itself: its metrics (Effect `Metric`s, exported by whatever
 * metrics layer the application provides, e.g. `@effect/opentelemetry`'s, named after what
 * they measure and tagged `group`, `topic`, `partition` where they apply: O2) and the
 * `ConsumerEvent`s it publishes on `Consumer.events`.
 *
 * The hot path never touches a metric: a worker counts its finished records in a plain field
 * and times one record in `sampleEvery` (`worker.ts`); `EngineMetrics.report` turns those and
 * the partitions' state (in flight, buffered, paused, committed frontier, lag) into metric
 * values every `metricsInterval`, and once more when a partition leaves. Updates go through
 * `unsafeUpdate` with one label array per partition, made at assignment: Effect caches the
 * metric's hook per label array, so an update is a map lookup and an add.
 *
 * Owns nothing mutable but the rebalance clock. Written by the engine (records received,
 * assignment), the committer (commits, failures, latency), revocation (its duration), the
 * pipelines (failed, retried, dead-lettered, skipped); nothing reads them back.
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"
import * as PubSub from "effect/PubSub"
import type { ConsumerEvent } from "../ConsumerEvent.js"
import type { TopicPartition } from "../TopicPartition.js"

// ---------------------------------------------------------------------------------------------
// Records (tags: group, topic, partition)
// ---------------------------------------------------------------------------------------------

export const recordsReceived = Metric.counter("sluice_records_received", {
  description: "Records delivered by the driver to partition buffers",
  incremental: true
})

export const recordsHandled = Metric.counter("sluice_records_handled", {
  description: "Records finished: their handler succeeded or their error policy settled them",
  incremental: true
})

export const recordsFailed = Metric.counter("sluice_records_failed", {
  description: "Records whose handler (or decoding) failed, counted once per record before its policy ran",
  incremental: true
})

export const recordsRetried = Metric.counter("sluice_record_retries", {
  description: "Handler retries by the retry policy",
  incremental: true
})

export const recordsDeadLettered = Metric.counter("sluice_records_dead_lettered", {
  description: "Records sent to a dead-letter topic",
  incremental: true
})

export const recordsSkipped = Metric.counter("sluice_records_skipped", {
  description: "Records skipped by policy",
  incremental: true
})

export const recordsStalled = Metric.counter("sluice_records_stalled", {
  description: "Records in flight longer than their pipeline's stallTimeout",
  incremental: true
})

/** Seconds, from 100 µs to about 100 s. */
export const handlerDuration = Metric.histogram(
  "sluice_handler_duration_seconds",
  MetricBoundaries.exponential({ start: 0.0001, factor: 2, count: 21 }),
  "Time from taking a record off the buffer to its finish (its handler, and its policy on failure), one record in 64 per partition"
)

// ---------------------------------------------------------------------------------------------
// Partitions (tags: group, topic, partition), set every metricsInterval
// ---------------------------------------------------------------------------------------------

export const inFlight = Metric.gauge("sluice_records_in_flight", {
  description: "Records taken off the buffer and not finished"
})

export const buffered = Metric.gauge("sluice_records_buffered", {
  description: "Records fetched and waiting in the partition's buffer"
})

export const paused = Metric.gauge("sluice_partition_paused", {
  description: "1 while the partition's fetching is paused by backpressure"
})

export const assigned = Metric.gauge("sluice_partition_assigned", {
  description:
    "1 while the partition is assigned to this member; the other partition gauges keep their last value after it left"
})

export const committedOffset = Metric.gauge("sluice_committed_offset", {
  description: "The last committed frontier (the next offset to consume)"
})

export const lagCommitted = Metric.gauge("sluice_consumer_lag", {
  description: "Log-end offset (high watermark at the last fetch) minus the committed offset"
})

export const lagHandled = Metric.gauge("sluice_consumer_lag_unhandled", {
  description: "Log-end offset (high watermark at the last fetch) minus the lowest unfinished offset"
})

// ---------------------------------------------------------------------------------------------
// The member (tag: group)
// ---------------------------------------------------------------------------------------------

export const commits = Metric.counter("sluice_commits", {
  description: "Successful offset commits",
  incremental: true
})

export const commitFailures = Metric.counter("sluice_commit_failures", {
  description: "Offset commits that failed after their retries",
  incremental: true
})

export const commitDuration = Metric.histogram(
  "sluice_commit_duration_seconds",
  MetricBoundaries.exponential({ start: 0.0005, factor: 2, count: 16 }),
  "Time an offset commit took, its retries included"
)

export const revocationMillis = Metric.histogram(
  "sluice_revocation_millis",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 16 }),
  "Time from the start of a revocation to the partition leaving"
)

export const rebalances = Metric.counter("sluice_rebalances", {
  description: "Rebalances this member went through (counted when it got its new assignment)",
  incremental: true
})

export const rebalanceDuration = Metric.histogram(
  "sluice_rebalance_duration_seconds",
  MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 18 }),
  "Time from the first revocation (or loss) of a rebalance to the assignment that ends it"
)

// ---------------------------------------------------------------------------------------------
// Labels and reporting
// ---------------------------------------------------------------------------------------------

export type Labels = ReadonlyArray<MetricLabel.MetricLabel>

export const groupLabels = (groupId: string): Labels => [MetricLabel.make("group", groupId)]

export const partitionLabels = (groupId: string, tp: TopicPartition): Labels => [
  MetricLabel.make("group", groupId),
  MetricLabel.make("topic", tp.topic),
  MetricLabel.make("partition", String(tp.partition))
]

/** Adds `n` to a counter (or observes `n` in a histogram) with `labels`, as an effect. */
export const update = (metric: Metric.Metric<any, number, any>, n: number, labels: Labels): Effect.Effect<void> =>
  Effect.sync(() => metric.unsafeUpdate(n, labels))

/**
 * The group of the run a pipeline's records belong to: set per worker by `Pipeline.run`, read
 * on the failure paths (failed, retried, dead-lettered, skipped, stalled), which tag by it.
 */
export const currentGroup: FiberRef.FiberRef<string> = FiberRef.unsafeMake("")

/** Counts `raws` in `metric`, each tagged with the current group, its topic and its partition (failure paths only). */
export const countRecords = (
  metric: Metric.Metric.Counter<number>,
  raws: ReadonlyArray<TopicPartition>
): Effect.Effect<void> =>
  Effect.flatMap(FiberRef.get(currentGroup), (group) =>
    Effect.sync(() => {
      for (const raw of raws) metric.unsafeUpdate(1, partitionLabels(group, raw))
    })
  )

/** What `EngineMetrics` reads of a partition's worker. */
export interface Observed {
  /** `undefined` when metrics are off: nothing is reported. */
  readonly labels: Labels | undefined
  readonly inFlight: number
  readonly paused: boolean
  readonly committed: number
  readonly logEnd: number
  readonly buffer: { readonly length: number }
  readonly tracker: { frontier(): number | undefined }
  /** Records finished since the last report; `report` resets it. */
  finishedSinceReport: number
}

/** The clock of metrics: seconds with sub-millisecond precision. */
export const seconds = (): number => performance.now() / 1000

/** One engine's reporting: the partitions' gauges and counts, and the rebalance clock. */
export class EngineMetrics {
  readonly group: Labels
  /** When the rebalance under way began (its first revocation or loss), or -1. */
  private rebalanceStarted = -1

  constructor(groupId: string) {
    this.group = groupLabels(groupId)
  }

  /** Reports a partition's state and its records finished since the last report. */
  report(worker: Observed): void {
    const labels = worker.labels
    if (labels === undefined) return
    if (worker.finishedSinceReport > 0) {
      recordsHandled.unsafeUpdate(worker.finishedSinceReport, labels)
      worker.finishedSinceReport = 0
    }
    inFlight.unsafeUpdate(worker.inFlight, labels)
    buffered.unsafeUpdate(worker.buffer.length, labels)
    paused.unsafeUpdate(worker.paused ? 1 : 0, labels)
    if (worker.committed >= 0) committedOffset.unsafeUpdate(worker.committed, labels)
    if (worker.logEnd >= 0) {
      if (worker.committed >= 0) lagCommitted.unsafeUpdate(Math.max(0, worker.logEnd - worker.committed), labels)
      const frontier = worker.tracker.frontier()
      if (frontier !== undefined) lagHandled.unsafeUpdate(Math.max(0, worker.logEnd - frontier), labels)
    }
  }

  assigned(worker: Observed): void {
    if (worker.labels === undefined) return
    assigned.unsafeUpdate(1, worker.labels)
    this.report(worker)
  }

  /** A partition left: its last counts, nothing in flight, buffered or paused any more. */
  left(worker: Observed): void {
    const labels = worker.labels
    if (labels === undefined) return
    this.report(worker)
    assigned.unsafeUpdate(0, labels)
    inFlight.unsafeUpdate(0, labels)
    buffered.unsafeUpdate(0, labels)
    paused.unsafeUpdate(0, labels)
  }

  /** A revocation or loss began: the rebalance's clock starts, unless it runs already. */
  rebalanceBegins(): void {
    if (this.rebalanceStarted < 0) this.rebalanceStarted = seconds()
  }

  /** An assignment arrived: a rebalance ended. */
  rebalanceEnds(): void {
    rebalances.unsafeUpdate(1, this.group)
    if (this.rebalanceStarted >= 0) {
      rebalanceDuration.unsafeUpdate(seconds() - this.rebalanceStarted, this.group)
      this.rebalanceStarted = -1
    }
  }
}

/** Publishes a diagnostic event; the sliding `PubSub` means a slow reader never holds the engine back. */
export type Publish = (event: ConsumerEvent) => Effect.Effect<void>

export const publisher =
  (events: PubSub.PubSub<ConsumerEvent>): Publish =>
  (event) =>
    Effect.asVoid(PubSub.publish(events, event))
