/**
 * Batch pipelines (`Pipeline.make({ batch })`) on the simulated cluster: chunks of one partition
 * by size and by time, failures settled per record or per chunk, and a slow chunk during a
 * rebalance.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Codec from "@sluice/core/Codec"
import * as Consumer from "@sluice/core/Consumer"
import { headerString } from "@sluice/core/ConsumerRecord"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import * as Pipeline from "@sluice/core/Pipeline"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as MemoryKafka from "../src/MemoryKafka.js"
import { eventually } from "../src/TestHelpers.js"
import { settle } from "./support.js"

const Row = Schema.Struct({ id: Schema.Number })
const rows = Topic.make({ name: "rows", key: Codec.string, value: Codec.json(Row) })
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** `count` rows round-robin over `partitions`: row i in partition i % partitions. */
const produceRows = (count: number, partitions: number) =>
  Effect.flatMap(Producer.Producer, (producer) =>
    producer.send(
      rows,
      Array.from({ length: count }, (_, i) => ({ key: `k${i}`, value: { id: i }, partition: i % partitions }))
    )
  )

const client = (settings: Partial<ConsumerSettings.Input> = {}) =>
  MemoryKafka.layerClient({ groupId: "sink", commitInterval: "20 millis", ...settings }, { seed: 7 })

/** The group's committed offset of every partition of `topic`, once they reached its end. */
const committedToEnd = (topic: string) =>
  Effect.gen(function* () {
    const kafka = yield* MemoryKafka.MemoryKafka
    const ends = yield* kafka.endOffsets(topic)
    const atEnd = Effect.map(kafka.committed("sink", topic), (committed) =>
      [...ends].every(([p, end]) => committed.get(p)?.offset === end)
    )
    for (let i = 0; i < 500 && !(yield* atEnd); i++) yield* Effect.sleep("10 millis")
    return yield* atEnd
  })

const ids = (records: Chunk.Chunk<Topic.RecordOf<typeof rows>>) => Chunk.toReadonlyArray(records).map((r) => r.value.id)

/**
 * Rows 0..19 through a batch sink (chunks of 10) whose insert fails whenever row 13 is in it,
 * retried twice, then dead-lettered, failures settled as `onFailure` says. Once everything is
 * committed: every attempt's rows, the rows inserted, and the dead letters (row id, attempts).
 */
const refusingRow13 = (onFailure: "record" | "chunk") =>
  Effect.gen(function* () {
    const kafka = yield* MemoryKafka.MemoryKafka
    yield* kafka.createTopic("rows", 1)
    yield* kafka.createTopic("rows.dlq", 1)
    yield* produceRows(20, 1)
    const attempts: Array<ReadonlyArray<number>> = []
    const inserted: Array<number> = []
    const sink = Pipeline.make({
      topic: rows,
      batch: { size: 10, within: "50 millis", onFailure },
      handler: (records) =>
        Effect.suspend(() => {
          attempts.push(ids(records))
          // The database refuses the whole insert when row 13 is in it.
          if (ids(records).includes(13)) return Effect.fail("constraint violated" as const)
          inserted.push(...ids(records))
          return Effect.void
        }),
      policy: ErrorPolicy.retry(Schedule.recurs(2), ErrorPolicy.deadLetter("rows.dlq"))
    })
    const fiber = yield* Effect.fork(Pipeline.run(sink))
    yield* eventually(() => inserted.length === (onFailure === "record" ? 19 : 10), "the rows inserted", "10 seconds")
    expect(yield* committedToEnd("rows")).toBe(true)
    yield* Fiber.interrupt(fiber)
    const letters = (yield* kafka.records("rows.dlq", 0)).map((letter) => ({
      id: JSON.parse(decoder.decode(letter.value!)).id as number,
      attempts: headerString(letter.headers, Pipeline.deadLetterHeaders.attempts)
    }))
    return { attempts, inserted, letters }
  })

/**
 * Two members of group `sink` on rows 0..39 over 2 partitions, in chunks of 10: `a` joins and
 * runs `slow` in each of its chunks from row 20 on (after signalling); `b` joins while `a` is in
 * one, so a rebalance meets it. `done` lists the chunks that ended, by member.
 */
const slowChunkDuringRebalance = (
  revocation: ConsumerSettings.RevocationStrategy,
  slow: Effect.Effect<void, never, Scope.Scope>
) =>
  Effect.gen(function* () {
    const kafka = yield* MemoryKafka.MemoryKafka
    yield* kafka.createTopic("rows", 2)
    yield* produceRows(40, 2)
    const done: Array<{ member: string; ids: ReadonlyArray<number> }> = []
    const slowStarted = yield* Deferred.make<void>()
    const sink = (member: string) =>
      Pipeline.make({
        topic: rows,
        batch: { size: 10, within: "20 millis" },
        handler: (records) =>
          Effect.gen(function* () {
            if (member === "a" && ids(records)[0]! >= 20) {
              yield* Deferred.succeed(slowStarted, undefined)
              yield* slow
            }
            done.push({ member, ids: ids(records) })
          }).pipe(Effect.scoped)
      })
    const settings = yield* ConsumerSettings.make({
      groupId: "sink",
      commitInterval: "20 millis",
      revocation,
      shutdownTimeout: "2 seconds"
    })
    const start = (member: string) =>
      Effect.flatMap(Consumer.make(settings), (consumer) =>
        Effect.forkDaemon(Pipeline.run(sink(member)).pipe(Effect.provideService(Consumer.Consumer, consumer)))
      )
    const a = yield* start("a")
    yield* Deferred.await(slowStarted)
    const b = yield* start("b")
    return { a, b, done }
  })

describe("memory: batch pipelines", () => {
  it.live("chunks by size: each a partition's records in offset order, at most `size`; everything committed", () =>
    Effect.gen(function* () {
      const kafka = yield* MemoryKafka.MemoryKafka
      yield* kafka.createTopic("rows", 3)
      yield* produceRows(300, 3)
      const chunks: Array<{ partition: number; ids: ReadonlyArray<number> }> = []
      const sink = Pipeline.make({
        topic: rows,
        batch: { size: 25, within: "1 hour" },
        handler: (records) =>
          Effect.sync(() => chunks.push({ partition: Chunk.unsafeHead(records).partition, ids: ids(records) }))
      })
      const fiber = yield* Effect.fork(Pipeline.run(sink))
      yield* eventually(() => chunks.reduce((n, c) => n + c.ids.length, 0) === 300, "every row", "10 seconds")
      expect(yield* committedToEnd("rows")).toBe(true)
      yield* Fiber.interrupt(fiber)
      for (const chunk of chunks) {
        expect(chunk.ids.length).toBeLessThanOrEqual(25)
        for (const id of chunk.ids) expect(id % 3).toBe(chunk.partition)
      }
      for (let p = 0; p < 3; p++) {
        const seen = chunks.filter((c) => c.partition === p).flatMap((c) => c.ids)
        expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i * 3 + p))
      }
    }).pipe(Effect.provide(client()))
  )

  it.effect("chunks by time: a chunk that does not fill is handed over `within` after its first record", () =>
    Effect.gen(function* () {
      const kafka = yield* MemoryKafka.MemoryKafka
      yield* kafka.createTopic("rows", 1)
      yield* produceRows(7, 1)
      const chunks: Array<{ readonly ids: ReadonlyArray<number>; readonly at: number }> = []
      const sink = Pipeline.make({
        topic: rows,
        batch: { size: 100, within: "2 seconds" },
        handler: (records) =>
          Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.sync(() => chunks.push({ ids: ids(records), at })))
      })
      const fiber = yield* Effect.fork(Pipeline.run(sink))
      // Joining, the first fetch: the cluster's timers run on the TestClock too.
      for (let i = 0; i < 50 && chunks.length === 0; i++) {
        yield* TestClock.adjust("100 millis")
        yield* settle
      }
      expect(chunks.map((c) => c.ids)).toEqual([[0, 1, 2, 3, 4, 5, 6]])
      const produced = yield* Clock.currentTimeMillis
      yield* produceRows(3, 1)
      for (let i = 0; i < 50 && chunks.length === 1; i++) {
        yield* TestClock.adjust("100 millis")
        yield* settle
      }
      // Far from full, the chunk was cut `within` after its first record arrived (one poll after the produce).
      expect(chunks.map((c) => c.ids.length)).toEqual([7, 3])
      expect(chunks[1]!.at - produced).toBeGreaterThanOrEqual(2000)
      expect(chunks[1]!.at - produced).toBeLessThanOrEqual(2500)
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(client({ commitInterval: "1 second" })))
  )

  it.live(
    "G9 onFailure record: the failed chunk is split, the bad row alone is retried and dead-lettered, the rest committed",
    () =>
      Effect.gen(function* () {
        const { attempts, inserted, letters } = yield* refusingRow13("record")
        expect(inserted).toEqual(Array.from({ length: 20 }, (_, i) => i).filter((i) => i !== 13))
        // The chunk 10..19 failed once whole, then ran a row at a time; row 13 three times (two retries).
        expect(attempts.map((a) => a.length)).toEqual([10, 10, ...Array.from({ length: 12 }, () => 1)])
        expect(letters.map((l) => l.id)).toEqual([13])
      }).pipe(Effect.provide(client()))
  )

  it.live("G9 onFailure chunk: the failed chunk is retried as a whole, then dead-lettered as a whole", () =>
    Effect.gen(function* () {
      const { attempts, inserted, letters } = yield* refusingRow13("chunk")
      const second = Array.from({ length: 10 }, (_, i) => 10 + i)
      expect(attempts).toEqual([Array.from({ length: 10 }, (_, i) => i), second, second, second])
      expect(inserted).toEqual(Array.from({ length: 10 }, (_, i) => i))
      expect(letters.map((l) => l.id)).toEqual(second)
      expect(letters.map((l) => l.attempts)).toEqual(second.map(() => "3"))
    }).pipe(Effect.provide(client()))
  )

  it.live("G1 onFailure record with stop: the rows before the failing one are committed, nothing from it on", () =>
    Effect.gen(function* () {
      const kafka = yield* MemoryKafka.MemoryKafka
      yield* kafka.createTopic("rows", 1)
      yield* produceRows(10, 1)
      const sink = Pipeline.make({
        topic: rows,
        batch: { size: 10, within: "50 millis" },
        handler: (records) => (ids(records).includes(6) ? Effect.fail("refused" as const) : Effect.void)
      })
      const exit = yield* Effect.exit(Pipeline.run(sink))
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
        expect(exit.cause.error).toMatchObject({ _tag: "HandlerError", offset: 6, cause: "refused" })
      } else {
        expect.fail("the run should have failed with a HandlerError")
      }
      const committed = yield* kafka.committed("sink", "rows")
      expect(committed.get(0)?.offset).toBe(6)
    }).pipe(Effect.provide(client()))
  )

  it.live("a record that cannot be decoded is settled alone and left out of its chunk", () =>
    Effect.gen(function* () {
      const kafka = yield* MemoryKafka.MemoryKafka
      yield* kafka.createTopic("rows", 1)
      yield* produceRows(3, 1)
      yield* kafka.produce([{ topic: "rows", partition: 0, key: encoder.encode("x"), value: encoder.encode("{oops") }])
      yield* produceRows(3, 1)
      const chunks: Array<ReadonlyArray<number>> = []
      const sink = Pipeline.make({
        topic: rows,
        batch: { size: 10, within: "50 millis" },
        handler: (records) => Effect.sync(() => chunks.push(ids(records))),
        policy: ErrorPolicy.skip
      })
      const fiber = yield* Effect.fork(Pipeline.run(sink))
      yield* eventually(() => chunks.flat().length === 6, "the six good rows", "10 seconds")
      expect(yield* committedToEnd("rows")).toBe(true)
      yield* Fiber.interrupt(fiber)
      expect(chunks.flat()).toEqual([0, 1, 2, 0, 1, 2])
    }).pipe(Effect.provide(client()))
  )

  it.live(
    "G4 a slow chunk during a rebalance: interrupted (finalizer run, not committed) and redone by the next owner",
    () =>
      Effect.gen(function* () {
        const released: Array<string> = []
        // a's chunk hangs until the revocation interrupts it.
        const { a, b, done } = yield* slowChunkDuringRebalance(
          ConsumerSettings.interrupt,
          Effect.zipRight(
            Effect.acquireRelease(Effect.void, () => Effect.sync(() => released.push("a"))),
            Effect.never
          )
        )
        yield* eventually(() => released.length > 0, "a's slow chunk to be interrupted", "10 seconds")
        const byB = () => done.filter((d) => d.member === "b").flatMap((d) => d.ids)
        yield* eventually(() => byB().length === 10, "b to redo the moved partition's second chunk", "10 seconds")
        // The moved partition's second chunk was never committed by a: b starts at it.
        const moved = byB()[0]! % 2
        expect(byB()).toEqual(Array.from({ length: 10 }, (_, i) => 20 + i * 2 + moved))
        // (an eager rebalance revokes both of a's partitions: at least the moved one's chunk was interrupted)
        expect(released.length).toBeGreaterThanOrEqual(1)
        yield* Fiber.interrupt(b)
        yield* Fiber.interrupt(a)
      }).pipe(Effect.provide(client()))
  )

  it.live("G7 a slow chunk during a drained rebalance finishes, is committed, and is not redone", () =>
    Effect.gen(function* () {
      const { a, b, done } = yield* slowChunkDuringRebalance(
        ConsumerSettings.drain("5 seconds"),
        Effect.sleep("300 millis")
      )
      yield* eventually(() => done.flatMap((d) => d.ids).length >= 40, "every row", "10 seconds")
      expect(yield* committedToEnd("rows")).toBe(true)
      yield* Fiber.interrupt(b)
      yield* Fiber.interrupt(a)
      const all = done.flatMap((d) => d.ids).sort((x, y) => x - y)
      expect(all).toEqual(Array.from({ length: 40 }, (_, i) => i))
    }).pipe(Effect.provide(client()))
  )

  it.effect("bad batch settings fail the run with a SettingsError naming the field", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [Pipeline.Pipeline<never, never>, string]> = [
        [
          Pipeline.make({ topic: rows, batch: { size: 0, within: "1 second" }, handler: () => Effect.void }),
          "batch.size"
        ],
        [
          Pipeline.make({ topic: rows, batch: { size: 10, within: "-1 second" as never }, handler: () => Effect.void }),
          "batch.within"
        ],
        [
          Pipeline.make({
            topic: rows,
            batch: { size: 10, within: "1 second", onFailure: "row" as never },
            handler: () => Effect.void
          }),
          "batch.onFailure"
        ],
        [
          Pipeline.make({
            topic: rows,
            batch: { size: 10, within: "1 second" },
            mode: ProcessingMode.keyed({ concurrency: 4 }),
            handler: () => Effect.void
          } as never),
          "mode"
        ]
      ]
      for (const [pipeline, setting] of cases) {
        const error = yield* Effect.flip(Pipeline.run(pipeline))
        expect(error).toMatchObject({ _tag: "SettingsError", setting })
      }
    }).pipe(Effect.provide(client()))
  )

  it.live("a batch pipeline and a record pipeline run side by side in one consumer", () =>
    Effect.gen(function* () {
      const kafka = yield* MemoryKafka.MemoryKafka
      yield* kafka.createTopic("rows", 2)
      yield* kafka.createTopic("audit", 1)
      yield* produceRows(20, 2)
      yield* kafka.produce(
        Array.from({ length: 5 }, (_, i) => ({ topic: "audit", key: null, value: encoder.encode(`a${i}`) }))
      )
      let rowsSeen = 0
      const audits: Array<string> = []
      const fiber = yield* Effect.fork(
        Pipeline.run(
          Pipeline.make({
            topic: rows,
            batch: { size: 4, within: "20 millis" },
            handler: (records) => Effect.sync(() => (rowsSeen += Chunk.size(records)))
          }),
          Pipeline.make({
            topic: Topic.make({ name: "audit", value: Codec.string }),
            handler: (record) => Effect.sync(() => audits.push(record.value))
          })
        )
      )
      yield* eventually(() => rowsSeen === 20 && audits.length === 5, "both pipelines' records", "10 seconds")
      yield* Fiber.interrupt(fiber)
      expect(audits).toEqual(["a0", "a1", "a2", "a3", "a4"])
    }).pipe(Effect.provide(Layer.fresh(client())))
  )
})
