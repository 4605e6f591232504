/**
 * The O2 metrics tests (docs/observability.md) as a suite every driver runs: every metric
 * tagged with the group, topic and partition it measures; records handled, failed, retried,
 * dead-lettered; the committed frontier; consumer lag per partition from the log-end offset
 * the driver reports, while a handler holds a partition and after it let go. A driver's tests
 * call `suite(cluster)` with the services of one cluster (the simulated one, kafkajs or
 * librdkafka on a real broker).
 *
 * @since 0.4.0
 */
import { describe, expect, it } from "@effect/vitest"
import * as Codec from "@sluice/core/Codec"
import type * as Consumer from "@sluice/core/Consumer"
import type { ConsumerDriver } from "@sluice/core/ConsumerDriver"
import type * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import * as Pipeline from "@sluice/core/Pipeline"
import * as Producer from "@sluice/core/Producer"
import type { ProducerDriver } from "@sluice/core/ProducerDriver"
import * as Topic from "@sluice/core/Topic"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import { TestCluster } from "./TestCluster.js"
import { eventually, uniqueName } from "./TestHelpers.js"

/**
 * What a test of the suite is given: a consumer, a producer, the drivers and a `TestCluster`.
 *
 * @since 0.4.0
 */
export type Services = Consumer.Consumer | Producer.Producer | ConsumerDriver | ProducerDriver | TestCluster

/**
 * One cluster the suite runs on.
 *
 * @since 0.4.0
 */
export interface Cluster {
  readonly name: string
  /** A consumer of group `groupId` (with `settings`), a producer, the drivers and a `TestCluster`. */
  readonly services: (groupId: string, settings?: Partial<ConsumerSettings.Input>) => Layer.Layer<Services, unknown>
}

/**
 * The value of metric `name` with exactly these tags (and no other), from Effect's global
 * registry: a counter's or gauge's value, a histogram's count; undefined if never reported.
 *
 * @since 0.4.0
 */
export const metricValue = (name: string, tags: Record<string, string>): number | undefined => {
  for (const pair of Metric.unsafeSnapshot()) {
    if (pair.metricKey.name !== name) continue
    const keyTags = pair.metricKey.tags
    if (keyTags.length !== Object.keys(tags).length) continue
    if (!keyTags.every((t) => tags[t.key] === t.value)) continue
    const state = pair.metricState as unknown as { count?: number | bigint; value?: number | bigint }
    if ("count" in state && typeof state.count === "number" && !("buckets" in state)) return state.count
    if ("value" in state) return Number(state.value)
    if ("count" in state) return Number(state.count)
  }
  return undefined
}

class Declined extends Data.TaggedError("Declined")<{ readonly id: string }> {}

const settings = { metricsInterval: "50 millis" } as const

/**
 * Registers the O2 tests for `cluster` in a `describe` of their own.
 *
 * @since 0.4.0
 */
export const suite = (cluster: Cluster): void => {
  describe(`O2 metrics (${cluster.name})`, () => {
    it.live(
      "O2 records handled, failed, retried and dead-lettered, the committed frontier, tagged by group, topic and partition",
      () =>
        Effect.gen(function* () {
          const name = uniqueName("o2-counts")
          const dlq = `${name}.dlq`
          const groupId = uniqueName("o2-counts-group")
          const topic = Topic.make({ name, key: Codec.string, value: Codec.string })
          let seen = 0
          const pipeline = Pipeline.make({
            topic,
            handler: (record) =>
              Effect.suspend(() => {
                seen++
                return record.value === "bad" ? Effect.fail(new Declined({ id: record.key })) : Effect.void
              }),
            policy: ErrorPolicy.retry(Schedule.recurs(2), ErrorPolicy.deadLetter(dlq))
          })
          yield* Effect.gen(function* () {
            const c = yield* TestCluster
            yield* c.createTopic(name, 2)
            yield* c.createTopic(dlq, 1)
            const producer = yield* Producer.Producer
            // Partition 0: 5 good records; partition 1: 3 good and one that always fails.
            yield* producer.send(
              topic,
              Array.from({ length: 5 }, (_, i) => ({ key: `a${i}`, value: "ok", partition: 0 }))
            )
            yield* producer.send(topic, [
              { key: "b0", value: "ok", partition: 1 },
              { key: "b1", value: "bad", partition: 1 },
              { key: "b2", value: "ok", partition: 1 },
              { key: "b3", value: "ok", partition: 1 }
            ])
            const run = yield* Effect.fork(Pipeline.run(pipeline))
            const p0 = { group: groupId, topic: name, partition: "0" }
            const p1 = { group: groupId, topic: name, partition: "1" }
            yield* eventually(
              () =>
                metricValue("sluice_committed_offset", p0) === 5 &&
                metricValue("sluice_committed_offset", p1) === 4 &&
                metricValue("sluice_records_handled", p1) === 4 &&
                metricValue("sluice_consumer_lag", p0) === 0 &&
                metricValue("sluice_consumer_lag_unhandled", p1) === 0,
              "the frontiers committed and reported"
            )
            expect(seen).toBe(5 + 3 + 3)
            expect(metricValue("sluice_records_handled", p0)).toBe(5)
            expect(metricValue("sluice_records_received", p0)).toBe(5)
            expect(metricValue("sluice_records_failed", p1)).toBe(1)
            expect(metricValue("sluice_records_failed", p0)).toBeUndefined()
            expect(metricValue("sluice_record_retries", p1)).toBe(2)
            expect(metricValue("sluice_records_dead_lettered", p1)).toBe(1)
            expect(metricValue("sluice_records_in_flight", p0)).toBe(0)
            expect(metricValue("sluice_partition_assigned", p0)).toBe(1)
            expect(metricValue("sluice_commits", { group: groupId })).toBeGreaterThan(0)
            expect(metricValue("sluice_commit_duration_seconds", { group: groupId })).toBeGreaterThan(0)
            expect(metricValue("sluice_rebalances", { group: groupId })).toBeGreaterThan(0)
            yield* Fiber.interrupt(run)
            // A partition that left says so; nothing of it is in flight or buffered any more.
            expect(metricValue("sluice_partition_assigned", p0)).toBe(0)
            expect(metricValue("sluice_records_buffered", p0)).toBe(0)
          }).pipe(Effect.provide(cluster.services(groupId, settings)))
        }),
      90_000
    )

    it.live(
      "O2 consumer lag per partition: log end − committed and − unhandled while a handler holds the partition, 0 once it let go",
      () =>
        Effect.gen(function* () {
          const name = uniqueName("o2-lag")
          const groupId = uniqueName("o2-lag-group")
          const topic = Topic.make({ name, key: Codec.string, value: Codec.string })
          let open = false
          let started = 0
          const pipeline = Pipeline.make({
            topic,
            handler: () =>
              Effect.suspend(() => {
                started++
                return Effect.void
              }).pipe(Effect.zipRight(eventually(() => open, "the gate", "60 seconds")))
          })
          yield* Effect.gen(function* () {
            const c = yield* TestCluster
            yield* c.createTopic(name, 1)
            yield* Effect.flatMap(Producer.Producer, (p) =>
              p.send(
                topic,
                Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: "v", partition: 0 }))
              )
            )
            const run = yield* Effect.fork(Pipeline.run(pipeline))
            const p0 = { group: groupId, topic: name, partition: "0" }
            // The first record hangs: nothing handled, nothing committed past offset 0.
            yield* eventually(
              () => started === 1 && metricValue("sluice_consumer_lag_unhandled", p0) === 10,
              "the lag while the handler holds the partition"
            )
            expect(metricValue("sluice_records_in_flight", p0)).toBe(1)
            expect(metricValue("sluice_records_buffered", p0)).toBe(9)
            open = true
            yield* eventually(
              () =>
                metricValue("sluice_consumer_lag", p0) === 0 && metricValue("sluice_consumer_lag_unhandled", p0) === 0,
              "no lag once everything was handled and committed"
            )
            expect(metricValue("sluice_committed_offset", p0)).toBe(10)
            expect(metricValue("sluice_records_handled", p0)).toBe(10)
            yield* Fiber.interrupt(run)
          }).pipe(Effect.provide(cluster.services(groupId, settings)))
        }),
      90_000
    )
  })
}
