/**
 * The external offset store on the simulated cluster (G10): results and positions committed
 * together in the in-memory database, across crashes (a crashed member's handlers go on as
 * zombies until its session expires), rebalances, every processing mode and batches; a
 * database that cannot be reached; a stale owner fenced.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Consumer from "@sluice/core/Consumer"
import type { ConsumerRecord } from "@sluice/core/ConsumerRecord"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import * as OffsetStore from "@sluice/core/OffsetStore"
import * as Pipeline from "@sluice/core/Pipeline"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import { ProducerDriver } from "@sluice/core/ProducerDriver"
import * as Topic from "@sluice/core/Topic"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as MemoryKafka from "../src/MemoryKafka.js"
import * as MemoryOffsetStore from "../src/MemoryOffsetStore.js"

const group = "ledger"
const topic = "payments"

const produce = (count: number, partitions: number) =>
  Effect.flatMap(ProducerDriver, (producer) =>
    producer.send(
      Array.from({ length: count }, (_, i) => ({
        topic,
        partition: i % partitions,
        key: new TextEncoder().encode(`k${i % 7}`),
        value: new TextEncoder().encode(String(i))
      }))
    )
  )

/** A row per record, written with the record's position in one transaction (or alone, without the store). */
const write = (records: ReadonlyArray<ConsumerRecord>, withStore: boolean) =>
  Effect.flatMap(MemoryOffsetStore.MemoryDatabase, (db) => {
    const rows = Effect.forEach(records, (r) => db.insert("rows", `${r.partition}:${r.offset}`), { discard: true })
    // A little work between the rows and the commit: a crash or a claim can land in between.
    const work = Effect.flatMap(Random.nextIntBetween(0, 3), (ms) => Effect.sleep(ms))
    return withStore
      ? db.transaction(Effect.zipRight(Effect.zipRight(rows, work), OffsetStore.save(records)))
      : Effect.zipRight(rows, work)
  })

/** Copies of each row: missing ones are 0, duplicated ones above 1. */
const tally = (rows: ReadonlyArray<unknown>, expected: ReadonlyArray<string>) => {
  const counts = new Map<string, number>()
  for (const row of rows) counts.set(row as string, (counts.get(row as string) ?? 0) + 1)
  let lost = 0
  let duplicates = 0
  for (const key of expected) {
    const n = counts.get(key) ?? 0
    if (n === 0) lost++
    else duplicates += n - 1
  }
  return { lost, duplicates, rows: rows.length }
}

interface Scenario {
  readonly withStore: boolean
  readonly mode: ProcessingMode.ProcessingMode | "batch"
  readonly records: number
  readonly crashes: number
}

/**
 * `records` over 3 partitions, members joining, and `crashes` times a member that owns
 * partitions crashed once it wrote rows since the last change: its handlers go on (a zombie)
 * until the group expels it, then its fiber is interrupted. Kafka commits only at revocation
 * (the interval is far away), so without the store a crash repeats everything the member did.
 */
const scenario = (s: Scenario) =>
  Effect.gen(function* () {
    const kafka = yield* MemoryKafka.MemoryKafka
    const db = yield* MemoryOffsetStore.MemoryDatabase
    yield* kafka.createTopic(topic, 3)
    yield* produce(s.records, 3)
    const settings = yield* ConsumerSettings.make({
      groupId: group,
      commitInterval: "1 hour",
      commitEvery: 1_000_000,
      sessionTimeout: "300 millis",
      heartbeatInterval: "50 millis"
    })
    const run = (consumer: Consumer.ConsumerService) =>
      s.mode === "batch"
        ? consumer.runBatch({
            topics: [topic],
            batch: { size: 20, within: "5 millis" },
            handler: (chunk) => write(Chunk.toReadonlyArray(chunk), s.withStore)
          })
        : consumer.run({ topics: [topic], mode: s.mode, handler: (record) => write([record], s.withStore) })
    // Every member's fiber; a crashed one goes on (a zombie) until interrupted at the end.
    const members: Array<{ fiber: Fiber.RuntimeFiber<never, unknown> }> = []
    const join = Effect.gen(function* () {
      const consumer = yield* Consumer.make(settings)
      members.push({ fiber: yield* Effect.fork(run(consumer)) })
    })
    const distinct = Effect.map(db.rows("rows"), (rows) => new Set(rows).size)
    const waitForRows = (atLeast: number) =>
      Effect.gen(function* () {
        for (let i = 0; i < 2000 && (yield* distinct) < atLeast; i++) yield* Effect.sleep("5 millis")
      })
    yield* join
    yield* join
    let crashed = 0
    while (crashed < s.crashes) {
      const stable = yield* kafka.awaitStable(group)
      yield* waitForRows((yield* distinct) + 60)
      const owner = stable.members.find((m) => m.assigned.length > 0 && m.status === "active")
      if (owner === undefined) break
      yield* kafka.faults.crash(owner.memberId)
      crashed++
      yield* join
      yield* Effect.sleep("400 millis")
    }
    yield* waitForRows(s.records)
    // Let the last transactions settle, then stop every member (the zombies too).
    yield* Effect.sleep("100 millis")
    for (const m of members) yield* Fiber.interrupt(m.fiber)
    const expected = Array.from({ length: s.records }, (_, i) => `${i % 3}:${Math.floor(i / 3)}`)
    return { ...tally(yield* db.rows("rows"), expected), crashed, ...(yield* db.stats) }
  }).pipe(Effect.provide(Layer.merge(MemoryKafka.layer({ seed: 11, maxBatchSize: 50 }), MemoryOffsetStore.layer)))

describe("G10 the external offset store on the simulated cluster", () => {
  for (const mode of [
    ProcessingMode.partition,
    ProcessingMode.keyed({ concurrency: 4 }),
    ProcessingMode.unordered({ concurrency: 4 }),
    "batch" as const
  ]) {
    const name = typeof mode === "string" ? mode : mode._tag
    it.live(
      `G10 (${name}) crashes and rebalances: every record has exactly one row (and without the store, in partition mode, the same run repeats rows)`,
      () =>
        Effect.gen(function* () {
          const exact = yield* scenario({ withStore: true, mode, records: 3000, crashes: 3 })
          expect(exact.crashed).toBe(3)
          expect({ lost: exact.lost, duplicates: exact.duplicates }).toEqual({ lost: 0, duplicates: 0 })
          yield* Effect.log(`G10 ${name} with the store: ${JSON.stringify(exact)}`)
          if (name !== "Partition") return
          // The same run without the store: the crashed members' work since their last commit is repeated.
          const baseline = yield* scenario({ withStore: false, mode, records: 3000, crashes: 3 })
          expect(baseline.lost).toBe(0)
          expect(baseline.duplicates).toBeGreaterThan(0)
          yield* Effect.log(`G10 ${name} without the store: ${JSON.stringify(baseline)}`)
        }),
      60_000
    )
  }

  it.live("G10 a stale owner's transaction is fenced: its rows never commit, the new owner writes them once", () =>
    Effect.gen(function* () {
      const kafka = yield* MemoryKafka.MemoryKafka
      const db = yield* MemoryOffsetStore.MemoryDatabase
      yield* kafka.createTopic(topic, 1)
      yield* produce(10, 1)
      const settings = yield* ConsumerSettings.make({
        groupId: group,
        sessionTimeout: "200 millis",
        heartbeatInterval: "50 millis"
      })
      const first = yield* Consumer.make(settings)
      const inside = yield* Effect.makeLatch(false)
      const release = yield* Effect.makeLatch(false)
      // The first owner's transaction of offset 0 saves, then hangs until released.
      const zombie = yield* Effect.fork(
        first.run({
          topics: [topic],
          handler: (record) =>
            // Uninterruptible: the loss of the partition cannot roll it back, as a process that
            // paused mid-transaction and resumed after its session expired tries to commit.
            Effect.uninterruptible(
              db.transaction(
                Effect.gen(function* () {
                  yield* db.insert("rows", `first:${record.offset}`)
                  yield* OffsetStore.save(record)
                  yield* inside.open
                  yield* release.await
                })
              )
            )
        })
      )
      yield* inside.await
      const [owner] = (yield* kafka.awaitStable(group)).members
      yield* kafka.faults.crash(owner!.memberId)
      const second = yield* Consumer.make(settings)
      const successor = yield* Effect.fork(
        second.run({
          topics: [topic],
          handler: (record) =>
            db.transaction(Effect.zipRight(db.insert("rows", `second:${record.offset}`), OffsetStore.save(record)))
        })
      )
      for (let i = 0; i < 400 && (yield* db.rows("rows")).length < 10; i++) yield* Effect.sleep("5 millis")
      // The zombie wakes up after the new owner claimed the partition: its commit is refused.
      yield* release.open
      const zombieExit = yield* Fiber.await(zombie)
      // The zombie's transaction ends in a fiber its consumer's shutdown gave up waiting for.
      for (let i = 0; i < 200 && (yield* db.stats).fenced === 0; i++) yield* Effect.sleep("5 millis")
      yield* Fiber.interrupt(successor)
      const rows = (yield* db.rows("rows")) as ReadonlyArray<string>
      expect(rows).toEqual(Array.from({ length: 10 }, (_, i) => `second:${i}`))
      expect((yield* db.stats).fenced).toBeGreaterThanOrEqual(1)
      // The zombie stopped with the store's typed error.
      expect(Exit.isFailure(zombieExit)).toBe(true)
      const position = yield* db.position(group, { topic, partition: 0 })
      expect(position?.position?.offset).toBe(10)
    }).pipe(Effect.provide(Layer.merge(MemoryKafka.layer({ seed: 3 }), MemoryOffsetStore.layer)))
  )

  it.live(
    "G10 the database unreachable mid-stream: retried by the policy's schedule, then a typed stop; a restart writes the rest once",
    () =>
      Effect.gen(function* () {
        const kafka = yield* MemoryKafka.MemoryKafka
        const db = yield* MemoryOffsetStore.MemoryDatabase
        yield* kafka.createTopic(topic, 2)
        yield* produce(200, 2)
        const payments = Topic.make({ name: topic })
        let attempts = 0
        const sink = Pipeline.make({
          topic: payments,
          policy: ErrorPolicy.retry(Schedule.spaced("10 millis").pipe(Schedule.intersect(Schedule.recurs(3)))),
          handler: (record) =>
            Effect.suspend(() => {
              attempts++
              return db.transaction(
                Effect.zipRight(db.insert("rows", `${record.partition}:${record.offset}`), OffsetStore.save(record))
              )
            })
        })
        const consumer = yield* Consumer.make(yield* ConsumerSettings.make({ groupId: group }))
        const first = yield* Effect.fork(Pipeline.run(sink).pipe(Effect.provideService(Consumer.Consumer, consumer)))
        for (let i = 0; i < 400 && (yield* db.rows("rows")).length < 200; i++) yield* Effect.sleep("5 millis")
        yield* db.setAvailable(false)
        const before = attempts
        yield* produce(200, 2)
        const exit = yield* Fiber.await(first)
        // Stopped by the policy after its retries, with the store's typed error inside.
        expect(Exit.isFailure(exit)).toBe(true)
        const failure = Exit.isFailure(exit) ? JSON.stringify(exit.cause) : ""
        expect(failure).toContain("HandlerError")
        expect(failure).toContain("unavailable")
        expect(attempts - before).toBeGreaterThanOrEqual(4)
        yield* db.setAvailable(true)
        const again = yield* Consumer.make(yield* ConsumerSettings.make({ groupId: group }))
        const second = yield* Effect.fork(Pipeline.run(sink).pipe(Effect.provideService(Consumer.Consumer, again)))
        for (let i = 0; i < 1000 && (yield* db.rows("rows")).length < 400; i++) yield* Effect.sleep("5 millis")
        yield* Effect.sleep("50 millis")
        yield* Fiber.interrupt(second)
        const expected = Array.from({ length: 400 }, (_, i) => `${i % 2}:${Math.floor(i / 2)}`)
        expect(tally(yield* db.rows("rows"), expected)).toEqual({ lost: 0, duplicates: 0, rows: 400 })
      }).pipe(Effect.provide(Layer.merge(MemoryKafka.layer({ seed: 5 }), MemoryOffsetStore.layer)))
  )

  it.live("G10 a store that cannot be claimed from at assignment stops the consumer with its typed error", () =>
    Effect.gen(function* () {
      const kafka = yield* MemoryKafka.MemoryKafka
      const db = yield* MemoryOffsetStore.MemoryDatabase
      yield* kafka.createTopic(topic, 1)
      yield* db.setAvailable(false)
      const consumer = yield* Consumer.make(yield* ConsumerSettings.make({ groupId: group }))
      const error = yield* Effect.flip(consumer.run({ topics: [topic], handler: () => Effect.void }))
      expect(error._tag).toBe("OffsetStoreError")
      expect((error as unknown as OffsetStore.OffsetStoreError).reason).toBe("unavailable")
    }).pipe(Effect.provide(Layer.merge(MemoryKafka.layer({ seed: 5 }), MemoryOffsetStore.layer)))
  )

  it.effect("G10 OffsetStore.save outside a handler of a consumer with a store fails `unclaimed`", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(OffsetStore.save({ topic, partition: 0, offset: 3 }))
      expect(error.reason).toBe("unclaimed")
    }).pipe(Effect.provide(MemoryOffsetStore.layer))
  )

  it("G10 advance: the frontier moves to the floor and past finished offsets; the rest is kept in the metadata", () => {
    const a = OffsetStore.advance(undefined, [5, 7], 5)
    expect(a.offset).toBe(6)
    const b = OffsetStore.advance(a, [6], 0)
    expect(b).toEqual({ offset: 8, metadata: "" })
    // A gap (a transaction marker at 8) is passed by the engine's floor.
    expect(OffsetStore.advance(b, [9], 9)).toEqual({ offset: 10, metadata: "" })
    // Nothing goes backwards.
    expect(OffsetStore.advance(b, [3], 0).offset).toBe(8)
  })
})
