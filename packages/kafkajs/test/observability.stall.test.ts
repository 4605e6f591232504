/**
 * O3 stall detection, on the simulated cluster and on the real broker: a record in flight
 * longer than its pipeline's `stallTimeout` raises `ConsumerEvent.Stalled`, counts in
 * `sluice_records_stalled` and marks its partition stalled in the health; `report` lets it go
 * on, `interrupt(policy)` interrupts it (finalizers run) and settles it by the policy (retried,
 * then dead-lettered). The other partitions and keys go on meanwhile.
 */

import { describe, expect, it } from "@effect/vitest"
import * as Codec from "@sluice/core/Codec"
import * as Consumer from "@sluice/core/Consumer"
import type { ConsumerEvent } from "@sluice/core/ConsumerEvent"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import * as Pipeline from "@sluice/core/Pipeline"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as Producer from "@sluice/core/Producer"
import * as StallPolicy from "@sluice/core/StallPolicy"
import * as Topic from "@sluice/core/Topic"
import { TransactionalProducerDriver } from "@sluice/core/TransactionalProducerDriver"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { TestCluster } from "@sluice/testkit/TestCluster"
import { committedWhen, eventually, healthWhen, uniqueName } from "@sluice/testkit/TestHelpers"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import { realBroker, simulated, type TransactionalCluster } from "./observability.support.js"

const broker = await brokerForTests()

const stalledCount = (groupId: string, topic: string, partition: number): number => {
  for (const pair of Metric.unsafeSnapshot()) {
    if (pair.metricKey.name !== "sluice_records_stalled") continue
    const tags = new Map(pair.metricKey.tags.map((t) => [t.key, t.value]))
    if (tags.get("group") === groupId && tags.get("topic") === topic && tags.get("partition") === String(partition)) {
      return (pair.metricState as unknown as { count: number }).count
    }
  }
  return 0
}

/** The consumer's events so far, collected from a subscription made before the run. */
const collecting = Effect.gen(function* () {
  const consumer = yield* Consumer.Consumer
  const queue = yield* consumer.subscribeEvents
  const seen: Array<ConsumerEvent> = []
  yield* Effect.forkScoped(Effect.forever(Effect.map(Queue.take(queue), (e) => seen.push(e))))
  return seen
})

const suite = (cluster: TransactionalCluster) =>
  describe(`O3 stall detection (${cluster.name})`, () => {
    it.live(
      "O3 report: a stalled record raises Stalled, the metric and the health mark, and goes on; the other partition is handled meanwhile",
      () =>
        Effect.scoped(
          Effect.gen(function* () {
            const name = uniqueName("o3-report")
            const groupId = uniqueName("o3-report-group")
            const topic = Topic.make({ name, key: Codec.string, value: Codec.string })
            let release = false
            const handled: Array<string> = []
            const pipeline = Pipeline.make({
              topic,
              handler: (record) =>
                Effect.zipRight(
                  record.value === "slow" ? eventually(() => release, "the release") : Effect.void,
                  Effect.sync(() => handled.push(record.value))
                ),
              stallTimeout: "300 millis"
            })
            yield* Effect.gen(function* () {
              const c = yield* TestCluster
              yield* c.createTopic(name, 2)
              const seen = yield* collecting
              yield* Effect.flatMap(Producer.Producer, (p) =>
                p.send(topic, [
                  { key: "a", value: "slow", partition: 0 },
                  { key: "b", value: "after-slow", partition: 0 },
                  ...Array.from({ length: 5 }, (_, i) => ({ key: `c${i}`, value: `other-${i}`, partition: 1 }))
                ])
              )
              const run = yield* Effect.fork(Pipeline.run(pipeline))
              yield* eventually(() => seen.some((e) => e._tag === "Stalled"), "the Stalled event")
              const stalled = seen.find((e) => e._tag === "Stalled")!
              expect(stalled).toMatchObject({ partition: { topic: name, partition: 0 }, offset: 0, interrupted: false })
              expect((stalled as { millis: number }).millis).toBeGreaterThanOrEqual(300)
              expect(stalledCount(groupId, name, 0)).toBe(1)
              const health = yield* Consumer.health()
              expect(health.members[0]!.stalled).toEqual([{ topic: name, partition: 0 }])
              // The other partition went on; the stalled one waits, in order.
              yield* eventually(() => handled.filter((v) => v.startsWith("other-")).length === 5, "partition 1 handled")
              expect(handled).not.toContain("after-slow")
              release = true
              yield* eventually(() => handled.includes("after-slow"), "the stalled record went on")
              expect(handled.indexOf("slow")).toBeLessThan(handled.indexOf("after-slow"))
              const after = yield* Consumer.health()
              expect(after.members[0]!.stalled).toEqual([])
              yield* committedWhen(groupId, name, (c) => c.get(0) === 2 && c.get(1) === 5)
              yield* Fiber.interrupt(run)
            }).pipe(Effect.provide(cluster.services(groupId)))
          })
        )
    )

    it.live(
      "O3 interrupt: a stalled attempt is interrupted (finalizer run), retried, then dead-lettered; other keys go on",
      () =>
        Effect.scoped(
          Effect.gen(function* () {
            const name = uniqueName("o3-interrupt")
            const dlq = `${name}.dlq`
            const groupId = uniqueName("o3-interrupt-group")
            const topic = Topic.make({ name, key: Codec.string, value: Codec.string })
            let attempts = 0
            let finalized = 0
            const handled: Array<string> = []
            const pipeline = Pipeline.make({
              topic,
              mode: ProcessingMode.keyed({ concurrency: 4 }),
              handler: (record) =>
                record.value === "hang"
                  ? Effect.acquireUseRelease(
                      Effect.sync(() => attempts++),
                      () => Effect.never,
                      () => Effect.sync(() => finalized++)
                    )
                  : Effect.sync(() => handled.push(record.value)),
              stallTimeout: "300 millis",
              onStall: StallPolicy.interrupt(ErrorPolicy.retry(Schedule.recurs(1), ErrorPolicy.deadLetter(dlq)))
            })
            yield* Effect.gen(function* () {
              const c = yield* TestCluster
              yield* c.createTopic(name, 1)
              yield* c.createTopic(dlq, 1)
              const seen = yield* collecting
              yield* Effect.flatMap(Producer.Producer, (p) =>
                p.send(topic, [
                  { key: "stuck", value: "hang", partition: 0 },
                  ...Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, partition: 0 }))
                ])
              )
              const run = yield* Effect.fork(Pipeline.run(pipeline))
              // The other keys are handled while the stuck one hangs.
              yield* eventually(() => handled.length === 6 && attempts === 1, "the other keys handled during the stall")
              const end = yield* c.endOffsets(name)
              yield* committedWhen(groupId, name, (committed) => committed.get(0) === end.get(0))
              expect(attempts).toBe(2)
              expect(finalized).toBe(2)
              const letters = yield* c.readAll(dlq)
              expect(letters.map((r) => new TextDecoder().decode(r.value!))).toEqual(["hang"])
              const error = letters[0]!.headers.find((h) => h.key === "sluice.dlq.error")!
              expect(new TextDecoder().decode(error.value!)).toContain("RecordStalled")
              const stalls = seen.filter((e) => e._tag === "Stalled")
              expect(stalls.length).toBe(2)
              expect(stalls.every((e) => (e as { interrupted: boolean }).interrupted)).toBe(true)
              expect(stalledCount(groupId, name, 0)).toBe(2)
              expect((yield* Consumer.health()).members[0]!.stalled).toEqual([])
              yield* Fiber.interrupt(run)
            }).pipe(Effect.provide(cluster.services(groupId)))
          })
        )
    )

    it.live(
      "O3 batch: a chunk in flight longer than stallTimeout raises Stalled for its records; interrupted, it is split and the hanging record alone dead-lettered, the others handled",
      () =>
        Effect.scoped(
          Effect.gen(function* () {
            const name = uniqueName("o3-batch")
            const dlq = `${name}.dlq`
            const groupId = uniqueName("o3-batch-group")
            const topic = Topic.make({ name, key: Codec.string, value: Codec.string })
            let hung = 0
            let finalized = 0
            const handled: Array<string> = []
            const pipeline = Pipeline.make({
              topic,
              batch: { size: 5, within: "200 millis", onFailure: "record" },
              handler: (records) => {
                const values = Chunk.toReadonlyArray(Chunk.map(records, (r) => r.value))
                return values.includes("hang")
                  ? Effect.acquireUseRelease(
                      Effect.sync(() => hung++),
                      () => Effect.never,
                      () => Effect.sync(() => finalized++)
                    )
                  : Effect.sync(() => handled.push(...values))
              },
              policy: ErrorPolicy.deadLetter(dlq),
              stallTimeout: "300 millis",
              onStall: StallPolicy.interrupt(ErrorPolicy.deadLetter(dlq))
            })
            yield* Effect.gen(function* () {
              const c = yield* TestCluster
              yield* c.createTopic(name, 1)
              yield* c.createTopic(dlq, 1)
              const seen = yield* collecting
              yield* Effect.flatMap(Producer.Producer, (p) =>
                p.send(topic, [
                  { key: "a", value: "v0", partition: 0 },
                  { key: "b", value: "v1", partition: 0 },
                  { key: "c", value: "hang", partition: 0 },
                  { key: "d", value: "v3", partition: 0 },
                  { key: "e", value: "v4", partition: 0 }
                ])
              )
              const run = yield* Effect.fork(Pipeline.run(pipeline))
              yield* committedWhen(groupId, name, (committed) => committed.get(0) === 5)
              // Every other record handled (some twice: their chunk was interrupted, then split).
              expect(new Set(handled)).toEqual(new Set(["v0", "v1", "v3", "v4"]))
              const letters = yield* c.readAll(dlq)
              expect(letters.map((r) => new TextDecoder().decode(r.value!))).toEqual(["hang"])
              const error = letters[0]!.headers.find((h) => h.key === "sluice.dlq.error")!
              expect(new TextDecoder().decode(error.value!)).toContain("RecordStalled")
              // The chunk with the hanging record stalled, then the record alone: each attempt
              // reported, interrupted and finalized.
              const stalls = seen.filter((e) => e._tag === "Stalled") as Array<{ offset: number; interrupted: boolean }>
              expect(stalls.length).toBeGreaterThanOrEqual(2)
              expect(stalls.length).toBe(hung)
              expect(finalized).toBe(hung)
              expect(stalls.every((e) => e.interrupted)).toBe(true)
              expect(stalls[stalls.length - 1]!.offset).toBe(2)
              // The metric counts the records of each stalled attempt: at least the chunk's and the record's.
              expect(stalledCount(groupId, name, 0)).toBeGreaterThanOrEqual(2)
              expect(stalledCount(groupId, name, 0)).toBeGreaterThan(stalls.length - 1)
              expect((yield* Consumer.health()).members[0]!.stalled).toEqual([])
              yield* Fiber.interrupt(run)
            }).pipe(Effect.provide(cluster.services(groupId)))
          })
        ),
      90_000
    )

    it.live(
      "O3 batch report: a stalled chunk marks its partition in the health until it ends, and is committed after",
      () =>
        Effect.scoped(
          Effect.gen(function* () {
            const name = uniqueName("o3-batch-report")
            const groupId = uniqueName("o3-batch-report-group")
            const topic = Topic.make({ name, key: Codec.string, value: Codec.string })
            let release = false
            const pipeline = Pipeline.make({
              topic,
              batch: { size: 3, within: "100 millis", onFailure: "chunk" },
              handler: () => eventually(() => release, "the release"),
              stallTimeout: "300 millis"
            })
            yield* Effect.gen(function* () {
              const c = yield* TestCluster
              yield* c.createTopic(name, 1)
              const seen = yield* collecting
              yield* Effect.flatMap(Producer.Producer, (p) =>
                p.send(
                  topic,
                  Array.from({ length: 3 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, partition: 0 }))
                )
              )
              const run = yield* Effect.fork(Pipeline.run(pipeline))
              yield* eventually(() => seen.some((e) => e._tag === "Stalled"), "the Stalled event")
              expect(seen.find((e) => e._tag === "Stalled")).toMatchObject({
                partition: { topic: name, partition: 0 },
                offset: 0,
                interrupted: false
              })
              expect((yield* Consumer.health()).members[0]!.stalled).toEqual([{ topic: name, partition: 0 }])
              release = true
              yield* committedWhen(groupId, name, (committed) => committed.get(0) === 3)
              expect((yield* Consumer.health()).members[0]!.stalled).toEqual([])
              expect(seen.filter((e) => e._tag === "Stalled").length).toBeGreaterThanOrEqual(1)
              yield* Fiber.interrupt(run)
            }).pipe(Effect.provide(cluster.services(groupId)))
          })
        ),
      90_000
    )

    it.live(
      "O3 exactly-once: a stalled attempt is reported and interrupted; what it sent never reaches the transaction, the retry's output is committed once",
      () =>
        Effect.scoped(
          Effect.gen(function* () {
            const name = uniqueName("o3-eos")
            const out = `${name}.out`
            const groupId = uniqueName("o3-eos-group")
            const input = Topic.make({ name, key: Codec.string, value: Codec.string })
            const output = Topic.make({ name: out, key: Codec.string, value: Codec.string })
            let attempts = 0
            let finalized = 0
            const pipeline = Pipeline.make({
              topic: input,
              handler: (record: Topic.RecordOf<typeof input>) =>
                Effect.flatMap(Producer.Producer, (producer) =>
                  Effect.gen(function* () {
                    const attempt = record.value === "hang" ? ++attempts : 0
                    yield* producer.send(output, [{ key: record.key ?? "", value: `${record.value}#${attempt}` }])
                    // The first attempt of "hang" sent its output, then hangs.
                    if (attempt === 1) {
                      yield* Effect.acquireUseRelease(
                        Effect.void,
                        () => Effect.never,
                        () => Effect.sync(() => finalized++)
                      )
                    }
                  })
                ),
              stallTimeout: "300 millis",
              onStall: StallPolicy.interrupt(ErrorPolicy.retry(Schedule.recurs(1), ErrorPolicy.stop))
            }).pipe(Pipeline.exactlyOnce({ size: 10, within: "100 millis", transactionalIdPrefix: name }))
            yield* Effect.gen(function* () {
              const c = yield* TestCluster
              yield* c.createTopic(name, 1)
              yield* c.createTopic(out, 1)
              const seen = yield* collecting
              yield* c.produce(
                ["a", "hang", "b"].map((value, i) => ({
                  topic: name,
                  partition: 0,
                  key: new TextEncoder().encode(`k${i}`),
                  value: new TextEncoder().encode(value),
                  headers: []
                }))
              )
              const run = yield* Effect.fork(Pipeline.run(pipeline))
              yield* committedWhen(groupId, name, (committed) => committed.get(0) === 3)
              yield* Fiber.interrupt(run)
              const values = [...(yield* cluster.readCommitted(out, 3))]
              // The interrupted attempt's "hang#1" never committed; the retry's once.
              expect(values.sort()).toEqual(["a#0", "b#0", "hang#2"])
              expect(attempts).toBe(2)
              expect(finalized).toBe(1)
              const stalls = seen.filter((e) => e._tag === "Stalled")
              expect(stalls).toHaveLength(1)
              expect(stalls[0]).toMatchObject({
                partition: { topic: name, partition: 0 },
                offset: 1,
                interrupted: true
              })
              expect(stalledCount(groupId, name, 0)).toBe(1)
            }).pipe(Effect.provide(cluster.withTransactions(groupId)))
          })
        ),
      90_000
    )

    it.live(
      "O4 a partition stalled longer than stalledWithin makes the member not live (still ready); live again once the stalled record ended",
      () =>
        Effect.scoped(
          Effect.gen(function* () {
            const name = uniqueName("o4-stalled")
            const groupId = uniqueName("o4-stalled-group")
            const topic = Topic.make({ name, key: Codec.string, value: Codec.string })
            let release = false
            const pipeline = Pipeline.make({
              topic,
              handler: (record) => (record.value === "slow" ? eventually(() => release, "the release") : Effect.void),
              stallTimeout: "200 millis"
            })
            const rules = { stalledWithin: "1 second" } as const
            yield* Effect.gen(function* () {
              const c = yield* TestCluster
              yield* c.createTopic(name, 2)
              yield* Effect.flatMap(Producer.Producer, (p) =>
                p.send(topic, [
                  { key: "a", value: "slow", partition: 0 },
                  { key: "b", value: "fast", partition: 1 }
                ])
              )
              const consumer = yield* Consumer.Consumer
              const run = yield* Effect.fork(Pipeline.run(pipeline))
              // Stalled, within the bound: live and ready, the partition marked.
              const early = yield* healthWhen(
                consumer,
                "the stall reported",
                (h) => h.members[0]?.stalled.length === 1,
                { rules }
              )
              expect(early.members[0]!.stalled).toEqual([{ topic: name, partition: 0 }])
              expect(early.members[0]!.stalledMillis).toBeGreaterThanOrEqual(200)
              // Past the bound: not live, with the partition in the problem; readiness unaffected.
              const stuck = yield* healthWhen(consumer, "not live", (h) => !h.live, { rules })
              expect(stuck.ready).toBe(true)
              expect(stuck.members[0]!.stalledMillis).toBeGreaterThan(1000)
              expect(stuck.problems).toHaveLength(1)
              expect(stuck.problems[0]).toMatch(
                new RegExp(`^${groupId}: not live: ${name}-0 stalled for \\d+\\.\\d s \\(limit 1\\.0 s\\)$`)
              )
              // The default bound (5 minutes) is far away.
              expect((yield* Consumer.health()).live).toBe(true)
              release = true
              const after = yield* healthWhen(consumer, "the stall ended", (h) => h.members[0]?.stalled.length === 0, {
                rules
              })
              expect(after).toMatchObject({ live: true, ready: true, problems: [] })
              expect(after.members[0]!.stalledMillis).toBeUndefined()
              yield* Fiber.interrupt(run)
            }).pipe(Effect.provide(cluster.services(groupId)))
          })
        ),
      90_000
    )

    it.live(
      "O4 G10 an exactly-once partition whose producer was fenced while the group did not move is abandoned: listed in the health, not live past rebalanceWithin, nothing more committed for it",
      () =>
        Effect.scoped(
          Effect.gen(function* () {
            const name = uniqueName("o4-abandoned")
            const out = `${name}.out`
            const groupId = uniqueName("o4-abandoned-group")
            const input = Topic.make({ name, key: Codec.string, value: Codec.string })
            const output = Topic.make({ name: out, key: Codec.string, value: Codec.string })
            const pipeline = Pipeline.make({
              topic: input,
              handler: (record: Topic.RecordOf<typeof input>) =>
                Effect.flatMap(Producer.Producer, (producer) =>
                  producer.send(output, [{ key: "", value: record.value }])
                )
            }).pipe(Pipeline.exactlyOnce({ size: 1, within: "50 millis", transactionalIdPrefix: name }))
            const send = (value: string) =>
              Effect.flatMap(Producer.Producer, (p) => p.send(input, [{ key: "k", value, partition: 0 }]))
            yield* Effect.gen(function* () {
              const c = yield* TestCluster
              yield* c.createTopic(name, 1)
              yield* c.createTopic(out, 1)
              yield* send("a")
              const consumer = yield* Consumer.Consumer
              const run = yield* Effect.fork(Pipeline.run(pipeline))
              yield* committedWhen(groupId, name, (committed) => committed.get(0) === 1)
              // Another producer of the partition's transactional id fences the pipeline's, as a
              // transaction the broker timed out does; the group does not move.
              const transactions = yield* TransactionalProducerDriver
              yield* transactions.open({
                transactionalId: `${name}-${groupId}-${name}-0`,
                groupId,
                topicPartition: { topic: name, partition: 0 }
              })
              yield* send("b")
              const abandoned = yield* healthWhen(
                consumer,
                "the partition abandoned",
                (h) => h.members[0]?.abandoned.length === 1
              )
              expect(abandoned.members[0]!.abandoned).toEqual([{ topic: name, partition: 0 }])
              expect(abandoned.members[0]!.assigned).toEqual([{ topic: name, partition: 0 }])
              const late = yield* healthWhen(consumer, "not live", (h) => !h.live, {
                rules: { rebalanceWithin: "100 millis" }
              })
              expect(late.problems.join("\n")).toMatch(
                new RegExp(`${name}-0 not processed for \\d+\\.\\d s since its transaction failed`)
              )
              // "b" was never committed by this member.
              expect((yield* c.committed(groupId, name)).get(0)).toBe(1)
              yield* Fiber.interrupt(run)
            }).pipe(Effect.provide(cluster.withTransactions(groupId)))
          })
        ),
      90_000
    )

    it.effect("O3 a bad stallTimeout or onStall is a SettingsError naming the setting", () =>
      Effect.gen(function* () {
        const topic = Topic.make({ name: "o3-settings" })
        const bad = (options: Partial<Parameters<typeof Pipeline.make>[0]>) =>
          Effect.flip(Pipeline.make({ topic, handler: () => Effect.void, ...options } as never).start)
        expect((yield* bad({ stallTimeout: -1 })).setting).toBe("stallTimeout")
        expect((yield* bad({ onStall: StallPolicy.report })).setting).toBe("onStall")
        expect((yield* bad({ stallTimeout: "1 second", onStall: { _tag: "Nope" } as never })).setting).toBe("onStall")
        expect(
          (yield* bad({ stallTimeout: "1 second", onStall: StallPolicy.interrupt(ErrorPolicy.deadLetter("")) })).setting
        ).toBe("onStall.policy.topic")
      })
    )
  })

suite(simulated)
describe.skipIf(broker === undefined)("on the real broker", () => {
  suite(realBroker(broker!))
})
