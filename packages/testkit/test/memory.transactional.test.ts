/**
 * Exactly-once pipelines on the simulated cluster (G10): transactions modelled after Kafka's
 * (records of an open or aborted transaction invisible to readers, producers fenced by epoch,
 * offsets sent to a transaction stored only when it commits), pipelines that produce one output
 * per input checked under crashes (zombies that keep running), fencing, members joining and
 * leaving, and injected transaction faults.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Codec from "@sluice/core/Codec"
import * as Consumer from "@sluice/core/Consumer"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import * as Pipeline from "@sluice/core/Pipeline"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import { TransactionalProducerDriver } from "@sluice/core/TransactionalProducerDriver"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as MemoryKafka from "../src/MemoryKafka.js"
import { TestCluster } from "../src/TestCluster.js"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

const input = Topic.make({ name: "in", key: Codec.string, value: Codec.string })
const output = Topic.make({ name: "out", key: Codec.string, value: Codec.string })

/** Produces inputs `from` until `to` (excluded), valued by their index, keyed by index mod 16. */
const produceInputs = (from: number, to: number) =>
  Effect.flatMap(MemoryKafka.MemoryKafka, (kafka) =>
    kafka.produce(
      Array.from({ length: to - from }, (_, i) => ({
        topic: "in",
        key: encoder.encode(`k${(from + i) % 16}`),
        value: encoder.encode(String(from + i))
      }))
    )
  )

/** What a read_committed reader sees of `topic`, as the values' strings. */
const readCommitted = (topic: string) =>
  Effect.flatMap(TestCluster, (cluster) =>
    Effect.map(cluster.readAll(topic), (records) => records.map((r) => decoder.decode(r.value!)))
  )

/** Waits (live clock) until `condition` holds, failing after `millis`. */
const eventually = <E, R>(condition: Effect.Effect<boolean, E, R>, millis = 20_000) =>
  Effect.gen(function* () {
    const deadline = Date.now() + millis
    while (!(yield* condition)) {
      if (Date.now() > deadline) return yield* Effect.dieMessage("timed out")
      yield* Effect.sleep("20 millis")
    }
  })

/** The outputs: one per input, by the handler (some sleep a little, so that records overlap in the concurrent modes). */
const enrich = (mode: ProcessingMode.ProcessingMode, size = 50) =>
  Pipeline.make({
    topic: input,
    mode,
    handler: (record: Topic.RecordOf<typeof input>) =>
      Effect.zipRight(
        Number(record.value) % 10 === 0 ? Effect.sleep(Number(record.value) % 3) : Effect.yieldNow(),
        Effect.flatMap(Producer.Producer, (producer) =>
          producer.send(output, [{ key: record.key ?? "", value: record.value }])
        )
      )
  }).pipe(Pipeline.exactlyOnce({ size, within: "20 millis", transactionalIdPrefix: "enrich" }))

const settings = (groupId: string) =>
  ConsumerSettings.make({
    groupId,
    sessionTimeout: "300 millis",
    heartbeatInterval: "50 millis",
    commitInterval: "20 millis",
    shutdownTimeout: "5 seconds"
  })

/** A member of the group running `pipeline`, in a fiber of its own. */
const member = <E, R>(groupId: string, pipeline: Pipeline.Pipeline<E, R>) =>
  Effect.gen(function* () {
    const consumer = yield* Consumer.make(yield* settings(groupId))
    return yield* Effect.fork(Pipeline.run(pipeline).pipe(Effect.provideService(Consumer.Consumer, consumer)))
  })

/** Checks G10: every input 0..count-1 has exactly one output; nothing else is visible. */
const exactlyOnce = (count: number) =>
  Effect.gen(function* () {
    const outputs = yield* readCommitted("out")
    const seen = new Map<string, number>()
    for (const v of outputs) seen.set(v, (seen.get(v) ?? 0) + 1)
    const duplicates = [...seen.values()].filter((n) => n > 1).length
    const lost = Array.from({ length: count }, (_, i) => String(i)).filter((v) => !seen.has(v)).length
    return { outputs: outputs.length, duplicates, lost }
  })

describe("memory: transactions", () => {
  it.scoped(
    "G10 read_committed readers never see an open or aborted transaction; a fenced producer cannot commit",
    () =>
      Effect.gen(function* () {
        const kafka = yield* MemoryKafka.MemoryKafka
        const driver = yield* TransactionalProducerDriver
        yield* kafka.createTopic("in", 1)
        yield* kafka.createTopic("out", 1)
        const tp = { topic: "in", partition: 0 }
        const first = yield* driver.open({ transactionalId: "t-g-in-0", groupId: "g", topicPartition: tp })
        const record = (v: string) => ({ topic: "out", key: null, value: encoder.encode(v) })
        yield* first.commit([record("a")], [{ topic: "in", partition: 0, offset: 1 }])
        expect(yield* readCommitted("out")).toEqual(["a"])
        expect((yield* kafka.committed("g", "in")).get(0)?.offset).toBe(1)
        // The first producer's next transaction is open when a new producer of the id fences it.
        const commit = yield* Effect.fork(first.commit([record("zombie")], [{ topic: "in", partition: 0, offset: 2 }]))
        yield* Effect.yieldNow()
        const second = yield* driver.open({ transactionalId: "t-g-in-0", groupId: "g", topicPartition: tp })
        const fenced = yield* Fiber.join(commit).pipe(Effect.flip)
        expect(fenced.reason).toBe("fenced")
        expect(second.committed?.offset).toBe(1)
        // Stored but aborted: in the log, invisible to readers, and the offsets were not committed.
        const stored = (yield* kafka.records("out", 0)).map((r) => (r.value === null ? null : decoder.decode(r.value)))
        expect(stored).toContain("zombie")
        expect(yield* readCommitted("out")).toEqual(["a"])
        expect((yield* kafka.committed("g", "in")).get(0)?.offset).toBe(1)
        // A commit of the fenced producer is refused from the start.
        const again = yield* first.commit([record("late")], []).pipe(Effect.flip)
        expect(again.reason).toBe("fenced")
        yield* second.commit([record("b")], [{ topic: "in", partition: 0, offset: 2 }])
        expect(yield* readCommitted("out")).toEqual(["a", "b"])
        expect((yield* kafka.committed("g", "in")).get(0)?.offset).toBe(2)
      }).pipe(Effect.provide(MemoryKafka.layer({ seed: 1 })))
  )

  for (const [name, mode] of [
    ["partition", ProcessingMode.partition],
    ["keyed", ProcessingMode.keyed({ concurrency: 8 })],
    ["unordered", ProcessingMode.unordered({ concurrency: 8 })]
  ] as const) {
    it.live(
      `G10 every input has exactly one output under read_committed across crashes (zombies), fencing, members joining and leaving (${name} mode)`,
      () =>
        Effect.gen(function* () {
          const kafka = yield* MemoryKafka.MemoryKafka
          const total = 2000
          const started = Date.now()
          const group = `g10-${name}`
          yield* kafka.createTopic("in", 4)
          yield* kafka.createTopic("out", 3)
          const pipeline = enrich(mode)
          yield* member(group, pipeline)
          yield* produceInputs(0, 500)
          let produced = 500
          const step = <E, R>(what: Effect.Effect<unknown, E, R>) =>
            Effect.gen(function* () {
              yield* Effect.sleep("60 millis")
              yield* what
              const next = Math.min(total, produced + 250)
              yield* produceInputs(produced, next)
              produced = next
            })
          const someMember = Effect.map(kafka.awaitStable(group), (g) => g.members[0]!.memberId)
          const second = yield* member(group, pipeline)
          yield* step(Effect.void)
          // A crashed member keeps running (a zombie) until its session expires: the new owner's
          // producer fences it.
          yield* step(Effect.flatMap(someMember, kafka.faults.crash))
          yield* step(member(group, pipeline))
          yield* step(Effect.flatMap(someMember, kafka.faults.fence))
          yield* step(Fiber.interrupt(second))
          yield* step(kafka.faults.forceRebalance(group))
          yield* step(Effect.flatMap(someMember, kafka.faults.crash))
          yield* step(member(group, pipeline))
          while (produced < total) yield* step(Effect.void)
          yield* eventually(Effect.map(exactlyOnce(total), (r) => r.lost === 0))
          // Let the group settle: a late duplicate would show up now.
          yield* Effect.sleep("300 millis")
          const result = yield* exactlyOnce(total)
          console.info(`[sluice] G10 (memory, ${name} mode): ${JSON.stringify(result)} in ${Date.now() - started} ms`)
          expect(result).toEqual({ outputs: total, duplicates: 0, lost: 0 })
          const committed = yield* kafka.committed(group, "in")
          const ends = yield* kafka.endOffsets("in")
          for (const [p, end] of ends) expect(committed.get(p)?.offset ?? 0).toBe(end)
        }).pipe(Effect.provide(MemoryKafka.layer({ seed: 7 }))),
      30_000
    )
  }

  it.live(
    "G10 an exactly-once partition's producer opens once, before its committed offsets are read, and its worker takes it over; a moved partition's new owner opens one more",
    () =>
      Effect.gen(function* () {
        const kafka = yield* MemoryKafka.MemoryKafka
        yield* kafka.createTopic("in", 3)
        yield* kafka.createTopic("out", 1)
        // The transactional id of every open, in order.
        const opens: Array<string> = []
        const driver = yield* TransactionalProducerDriver
        const counting = TransactionalProducerDriver.of({
          ...driver,
          open: (partition) =>
            Effect.zipRight(
              Effect.sync(() => opens.push(partition.transactionalId)),
              driver.open(partition)
            )
        })
        const pipeline = enrich(ProcessingMode.partition, 10)
        const run = (group: string) =>
          Effect.provideService(member(group, pipeline), TransactionalProducerDriver, counting)
        const first = yield* run("g-once")
        yield* produceInputs(0, 60)
        yield* eventually(Effect.map(exactlyOnce(60), (r) => r.lost === 0))
        const ids = [0, 1, 2].map((p) => `enrich-g-once-in-${p}`)
        expect([...opens].sort()).toEqual(ids)
        // A second member takes some partitions: each moved one is opened once more, by its new owner.
        const second = yield* run("g-once")
        yield* eventually(Effect.map(kafka.awaitStable("g-once"), (g) => g.members.length === 2))
        yield* produceInputs(60, 120)
        yield* eventually(Effect.map(exactlyOnce(120), (r) => r.lost === 0))
        const owners = yield* Effect.forEach([0, 1, 2], (p) => kafka.ownerOf("in", p, "g-once"))
        expect(new Set(owners).size).toBe(2)
        const reopened = opens.slice(3)
        expect(reopened.length).toBeGreaterThanOrEqual(1)
        expect(new Set(reopened).size).toBe(reopened.length)
        expect(yield* exactlyOnce(120)).toEqual({ outputs: 120, duplicates: 0, lost: 0 })
        yield* Fiber.interrupt(second)
        yield* Fiber.interrupt(first)
      }).pipe(Effect.provide(MemoryKafka.layer({ seed: 3 }))),
    30_000
  )

  it.live("G10 G9 a retried record's outputs are sent once; a dead letter goes in the same transaction", () =>
    Effect.gen(function* () {
      const kafka = yield* MemoryKafka.MemoryKafka
      yield* kafka.createTopic("in", 1)
      yield* kafka.createTopic("out", 1)
      yield* kafka.createTopic("in.dlq", 1)
      const attempts = new Map<string, number>()
      const pipeline = Pipeline.make({
        topic: input,
        handler: (record: Topic.RecordOf<typeof input>) =>
          Effect.gen(function* () {
            const producer = yield* Producer.Producer
            yield* producer.send(output, [{ key: "", value: record.value }])
            const n = (attempts.get(record.value) ?? 0) + 1
            attempts.set(record.value, n)
            // "3" fails once (then succeeds); "5" always fails: dead-lettered after its retries.
            if ((record.value === "3" && n === 1) || record.value === "5") return yield* Effect.fail("boom")
          }),
        policy: ErrorPolicy.retry(Schedule.recurs(2), ErrorPolicy.deadLetter("in.dlq"))
      }).pipe(Pipeline.exactlyOnce({ size: 3, within: "20 millis" }))
      yield* member("g-dlq", pipeline)
      yield* produceInputs(0, 10)
      yield* eventually(Effect.map(readCommitted("in.dlq"), (d) => d.length === 1))
      yield* eventually(Effect.map(kafka.committed("g-dlq", "in"), (c) => c.get(0)?.offset === 10))
      expect(yield* readCommitted("out")).toEqual(["0", "1", "2", "3", "4", "6", "7", "8", "9"])
      expect(attempts.get("3")).toBe(2)
      expect(attempts.get("5")).toBe(3)
      expect(yield* readCommitted("in.dlq")).toEqual(["5"])
    }).pipe(Effect.provide(MemoryKafka.layer({ seed: 2 })))
  )

  it.scopedLive(
    "G10 O4 a transaction timeout: the aborted transaction stays invisible, the partition is treated as lost (the health marks it abandoned, not live past rebalanceWithin) and redone from the committed offsets by its next owner",
    () =>
      Effect.gen(function* () {
        const kafka = yield* MemoryKafka.MemoryKafka
        yield* kafka.createTopic("in", 1)
        yield* kafka.createTopic("out", 1)
        const consumer = yield* Consumer.make(yield* settings("g-timeout"))
        const events = yield* consumer.subscribeEvents
        yield* Effect.fork(
          Pipeline.run(enrich(ProcessingMode.partition, 10)).pipe(Effect.provideService(Consumer.Consumer, consumer))
        )
        yield* produceInputs(0, 20)
        yield* eventually(Effect.map(readCommitted("out"), (o) => o.length === 20))
        yield* kafka.faults.failTransactions({ error: "timeout" })
        yield* produceInputs(20, 40)
        // The lost partition: nothing committed for it and no output of the aborted transaction.
        yield* eventually(
          Effect.map(
            Effect.flatMap(events.takeAll, (taken) => Effect.succeed([...taken])),
            (taken) => taken.some((e) => e._tag === "Lost")
          )
        )
        expect((yield* kafka.committed("g-timeout", "in")).get(0)?.offset).toBe(20)
        expect((yield* readCommitted("out")).length).toBe(20)
        // Still this member's as far as the group knows, but nobody processes it: the health says so,
        // and past `rebalanceWithin` the member is not live (a restart hands the partition on).
        const before = yield* consumer.health()
        expect(before.members[0]!.abandoned).toEqual([{ topic: "in", partition: 0 }])
        expect(before.live).toBe(true)
        yield* Effect.sleep("20 millis")
        const late = yield* consumer.health({ rebalanceWithin: "10 millis" })
        expect(late.live).toBe(false)
        expect(late.problems.join("\n")).toMatch(/not processed for .* since its transaction failed/)
        // The group moves on (as it does when a producer was fenced): the next owner redoes the work.
        yield* kafka.faults.forceRebalance("g-timeout")
        yield* eventually(Effect.map(exactlyOnce(40), (r) => r.lost === 0))
        expect(yield* exactlyOnce(40)).toEqual({ outputs: 40, duplicates: 0, lost: 0 })
        const after = yield* consumer.health({ rebalanceWithin: "10 millis" })
        expect(after.members[0]!.abandoned).toEqual([])
        expect(after.live).toBe(true)
      }).pipe(Effect.provide(MemoryKafka.layer({ seed: 3 })))
  )

  it.live("G10 a commit failing cleanly (retriable) is retried with the same outputs: nothing lost or doubled", () =>
    Effect.gen(function* () {
      const kafka = yield* MemoryKafka.MemoryKafka
      yield* kafka.createTopic("in", 2)
      yield* kafka.createTopic("out", 1)
      yield* kafka.faults.failTransactions({ error: "retriable", times: 3 })
      yield* member("g-retry", enrich(ProcessingMode.partition, 7))
      yield* produceInputs(0, 100)
      yield* eventually(Effect.map(exactlyOnce(100), (r) => r.lost === 0))
      yield* Effect.sleep("100 millis")
      expect(yield* exactlyOnce(100)).toEqual({ outputs: 100, duplicates: 0, lost: 0 })
    }).pipe(Effect.provide(MemoryKafka.layer({ seed: 4 })))
  )

  it.effect("exactlyOnce settings are checked: a SettingsError names the field", () =>
    Effect.gen(function* () {
      const base = Pipeline.make({ topic: input, handler: () => Effect.void })
      const refused = (pipeline: Pipeline.Pipeline<never, any>) =>
        Effect.flatMap(settings("g-settings"), (s) =>
          Effect.flatMap(Consumer.make(s), (consumer) =>
            Pipeline.run(pipeline).pipe(Effect.provideService(Consumer.Consumer, consumer), Effect.flip)
          )
        )
      const size = yield* refused(Pipeline.exactlyOnce(base, { size: 0 }))
      expect(size).toMatchObject({ _tag: "SettingsError", setting: "exactlyOnce.size" })
      const within = yield* refused(Pipeline.exactlyOnce(base, { within: "-1 seconds" as never }))
      expect(within).toMatchObject({ _tag: "SettingsError", setting: "exactlyOnce.within" })
      const prefix = yield* refused(Pipeline.exactlyOnce(base, { transactionalIdPrefix: "" }))
      expect(prefix).toMatchObject({ _tag: "SettingsError", setting: "exactlyOnce.transactionalIdPrefix" })
      const batch = Pipeline.make({ topic: input, batch: { size: 10, within: "1 second" }, handler: () => Effect.void })
      const chunks = yield* refused(Pipeline.exactlyOnce(batch as Pipeline.Pipeline<never, any>))
      expect(chunks).toMatchObject({ _tag: "SettingsError", setting: "exactlyOnce" })
    }).pipe(Effect.provide(MemoryKafka.layer({ seed: 5 })))
  )
})
