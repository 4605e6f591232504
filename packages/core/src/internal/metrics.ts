/**
 * What the engine reports about itself: its metrics (Effect `Metric`s, exported by whatever
 * metrics layer the application provides, named after what they measure) and the
 * `ConsumerEvent`s it publishes on `Consumer.events`.
 *
 * Owns nothing mutable. Written by the engine (records received), the committer (commits,
 * failures), backpressure (pause, resume) and revocation (its duration); nothing reads them back.
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as PubSub from "effect/PubSub"
import type { ConsumerEvent } from "../ConsumerEvent.js"

export const recordsReceived = Metric.counter("sluice_records_received", {
  description: "Records delivered by the driver to partition buffers",
  incremental: true
})

export const commits = Metric.counter("sluice_commits", {
  description: "Successful offset commits",
  incremental: true
})

export const commitFailures = Metric.counter("sluice_commit_failures", {
  description: "Offset commits that failed after their retries",
  incremental: true
})

export const revocationMillis = Metric.histogram(
  "sluice_revocation_millis",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 16 }),
  "Time from the start of a revocation to the partition leaving"
)

/** Publishes a diagnostic event; the sliding `PubSub` means a slow reader never holds the engine back. */
export type Publish = (event: ConsumerEvent) => Effect.Effect<void>

export const publisher =
  (events: PubSub.PubSub<ConsumerEvent>): Publish =>
  (event) =>
    Effect.asVoid(PubSub.publish(events, event))
