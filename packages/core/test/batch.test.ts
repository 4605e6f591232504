/**
 * Batch handlers on the scripted driver (`Consumer.runBatch`): chunks of one partition cut by
 * size or by time, committed only after the chunk succeeded, dropped or interrupted by a
 * revocation.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Codec from "@sluice/core/Codec"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as Pipeline from "@sluice/core/Pipeline"
import * as Topic from "@sluice/core/Topic"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as FakeDriver from "./fakeDriver.js"

const tp0 = { topic: "t", partition: 0 }
const tp1 = { topic: "t", partition: 1 }
/** Waits by yielding to the other fibers only: works under `TestClock`. */
const settle = Effect.gen(function* () {
  for (let i = 0; i < 500; i++) yield* Effect.yieldNow()
})

const offsets = (records: Chunk.Chunk<{ readonly offset: number }>) =>
  Chunk.toReadonlyArray(records).map((r) => r.offset)

describe("batch handlers (scripted driver)", () => {
  it.scopedLive(
    "chunks by size: a partition's records in offset order, partitions apart; commits after each chunk",
    () =>
      Effect.gen(function* () {
        const { consumer, fake } = yield* FakeDriver.consumer()
        const chunks: Array<{ partition: number; offsets: ReadonlyArray<number> }> = []
        const fiber = yield* Effect.fork(
          consumer.runBatch({
            topics: ["t"],
            batch: { size: 4, within: "1 hour" },
            handler: (records) =>
              Effect.sync(() =>
                chunks.push({ partition: Chunk.unsafeHead(records).partition, offsets: offsets(records) })
              )
          })
        )
        const listener = yield* Deferred.await(fake.listener)
        yield* listener.onAssigned([FakeDriver.assignment(tp0), FakeDriver.assignment(tp1)])
        yield* listener.onRecords(tp0, FakeDriver.records(tp0, 0, 8))
        yield* listener.onRecords(tp1, FakeDriver.records(tp1, 0, 4))
        yield* FakeDriver.waitFor(
          () => FakeDriver.lastCommit(fake.commits, 0) === 8 && FakeDriver.lastCommit(fake.commits, 1) === 4,
          "the commits"
        )
        expect(chunks.filter((c) => c.partition === 0).map((c) => c.offsets)).toEqual([
          [0, 1, 2, 3],
          [4, 5, 6, 7]
        ])
        expect(chunks.filter((c) => c.partition === 1).map((c) => c.offsets)).toEqual([[0, 1, 2, 3]])
        yield* Fiber.interrupt(fiber)
      })
  )

  it.scopedLive(
    "G6 a chunk larger than the buffer fills: the partition paused by the full buffer resumes meanwhile",
    () =>
      Effect.gen(function* () {
        const { consumer, fake } = yield* FakeDriver.consumer({ buffer: { perPartition: 10, total: 100 } })
        const chunks: Array<ReadonlyArray<number>> = []
        const fiber = yield* Effect.fork(
          consumer.runBatch({
            topics: ["t"],
            batch: { size: 25, within: "1 hour" },
            handler: (records) => Effect.sync(() => chunks.push(offsets(records)))
          })
        )
        const listener = yield* Deferred.await(fake.listener)
        yield* listener.onAssigned([FakeDriver.assignment(tp0)])
        // Like a driver: ten records fill the buffer and pause the partition; a resume lets the next ten in.
        for (let from = 0; from < 30; from += 10) {
          yield* listener.onRecords(tp0, FakeDriver.records(tp0, from, 10))
          const resumes = fake.controls.filter((c) => c.op === "resume").length
          yield* FakeDriver.waitFor(() => fake.controls.filter((c) => c.op === "resume").length > resumes, "a resume")
        }
        yield* FakeDriver.waitFor(() => chunks.length === 1, "the first chunk")
        expect(chunks).toEqual([Array.from({ length: 25 }, (_, i) => i)])
        yield* Fiber.interrupt(fiber)
      })
  )

  it.scoped("chunks by time: a chunk that does not fill is handled `within` after its first record (TestClock)", () =>
    Effect.gen(function* () {
      const { consumer, fake } = yield* FakeDriver.consumer({ commitInterval: "1 second" })
      const chunks: Array<ReadonlyArray<number>> = []
      const fiber = yield* Effect.fork(
        consumer.runBatch({
          topics: ["t"],
          batch: { size: 100, within: "5 seconds" },
          handler: (records) => Effect.sync(() => chunks.push(offsets(records)))
        })
      )
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([FakeDriver.assignment(tp0)])
      yield* listener.onRecords(tp0, FakeDriver.records(tp0, 0, 3))
      yield* settle
      yield* TestClock.adjust("3 seconds")
      yield* listener.onRecords(tp0, FakeDriver.records(tp0, 3, 2))
      yield* settle
      yield* TestClock.adjust("1999 millis")
      expect(chunks).toEqual([])
      yield* TestClock.adjust("1 millis")
      yield* settle
      // Cut 5 s after the first record, with what came in the meantime.
      expect(chunks).toEqual([[0, 1, 2, 3, 4]])
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(FakeDriver.lastCommit(fake.commits, 0)).toBe(5)
      yield* Fiber.interrupt(fiber)
    })
  )

  it.scopedLive("G1 a batch commits only after the whole chunk succeeded", () =>
    Effect.gen(function* () {
      const { consumer, fake } = yield* FakeDriver.consumer({ commitInterval: "5 millis" })
      const gate = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        consumer.runBatch({
          topics: ["t"],
          batch: { size: 5, within: "10 millis" },
          handler: (records) => (Chunk.unsafeHead(records).offset === 5 ? Deferred.await(gate) : Effect.void)
        })
      )
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([FakeDriver.assignment(tp0)])
      yield* listener.onRecords(tp0, FakeDriver.records(tp0, 0, 10))
      yield* FakeDriver.waitFor(() => FakeDriver.lastCommit(fake.commits, 0) === 5, "the first chunk's commit")
      yield* Effect.sleep("100 millis")
      // The second chunk runs: none of its records is committed, though the handler is past none of them.
      expect(Math.max(...fake.commits.map((c) => c.offset))).toBe(5)
      yield* Deferred.succeed(gate, undefined)
      yield* FakeDriver.waitFor(() => FakeDriver.lastCommit(fake.commits, 0) === 10, "the second chunk's commit")
      yield* Fiber.interrupt(fiber)
    })
  )

  it.scopedLive(
    "G1 a failing chunk stops the consumer with a HandlerError naming its first record; nothing of it is committed",
    () =>
      Effect.gen(function* () {
        const { consumer, fake } = yield* FakeDriver.consumer()
        const fiber = yield* Effect.fork(
          consumer.runBatch({
            topics: ["t"],
            batch: { size: 3, within: "10 millis" },
            handler: (records) =>
              Chunk.some(records, (r) => r.offset === 7) ? Effect.fail("insert failed" as const) : Effect.void
          })
        )
        const listener = yield* Deferred.await(fake.listener)
        yield* listener.onAssigned([FakeDriver.assignment(tp0)])
        yield* listener.onRecords(tp0, FakeDriver.records(tp0, 0, 12))
        const exit = yield* Fiber.await(fiber)
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
          expect(exit.cause.error).toMatchObject({
            _tag: "HandlerError",
            partition: 0,
            offset: 6,
            cause: "insert failed"
          })
        } else {
          expect.fail("the consumer should have failed with a HandlerError")
        }
        expect(Math.max(...fake.commits.map((c) => c.offset))).toBe(6)
        expect(fake.left).toBe(true)
      })
  )

  it.scopedLive("G4 revocation interrupts a running batch: its finalizers run, nothing of it is committed", () =>
    Effect.gen(function* () {
      const { consumer, fake } = yield* FakeDriver.consumer({ revocation: ConsumerSettings.interrupt })
      const started = yield* Deferred.make<void>()
      const log: Array<string> = []
      const fiber = yield* Effect.fork(
        consumer.runBatch({
          topics: ["t"],
          batch: { size: 5, within: "10 millis" },
          handler: (records) =>
            Chunk.unsafeHead(records).offset === 0
              ? Effect.void
              : Effect.acquireRelease(
                  Effect.sync(() => log.push("acquired")),
                  () => Effect.sync(() => log.push("released"))
                ).pipe(
                  Effect.zipRight(Deferred.succeed(started, undefined)),
                  Effect.zipRight(Effect.never),
                  Effect.scoped
                )
        })
      )
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([FakeDriver.assignment(tp0)])
      yield* listener.onRecords(tp0, FakeDriver.records(tp0, 0, 10))
      yield* Deferred.await(started)
      yield* FakeDriver.waitFor(() => FakeDriver.lastCommit(fake.commits, 0) === 5, "the first chunk's commit")
      yield* listener.onRevoked([tp0])
      // The revocation returned: the chunk's finalizer ran, and the final commit stayed before it.
      expect(log).toEqual(["acquired", "released"])
      expect(FakeDriver.lastCommit(fake.commits, 0)).toBe(5)
      yield* Fiber.interrupt(fiber)
    })
  )

  it.scopedLive(
    "G7 a drained revocation lets a slow chunk finish and commits it; a chunk still collecting is dropped",
    () =>
      Effect.gen(function* () {
        const { consumer, fake } = yield* FakeDriver.consumer({ revocation: ConsumerSettings.drain("2 seconds") })
        const started = yield* Deferred.make<void>()
        const handled: Array<ReadonlyArray<number>> = []
        const fiber = yield* Effect.fork(
          consumer.runBatch({
            topics: ["t"],
            batch: { size: 5, within: "1 hour" },
            handler: (records) =>
              Effect.zipRight(
                Effect.zipRight(Deferred.succeed(started, undefined), Effect.sleep("200 millis")),
                Effect.sync(() => handled.push(offsets(records)))
              )
          })
        )
        const listener = yield* Deferred.await(fake.listener)
        yield* listener.onAssigned([FakeDriver.assignment(tp0), FakeDriver.assignment(tp1)])
        yield* listener.onRecords(tp0, FakeDriver.records(tp0, 0, 5))
        // p1 gets too few records to fill a chunk within the hour: it is still collecting.
        yield* listener.onRecords(tp1, FakeDriver.records(tp1, 0, 2))
        yield* Deferred.await(started)
        yield* listener.onRevoked([tp0, tp1])
        expect(handled).toEqual([[0, 1, 2, 3, 4]])
        expect(FakeDriver.lastCommit(fake.commits, 0)).toBe(5)
        expect(FakeDriver.lastCommit(fake.commits, 1) ?? 0).toBe(0)
        yield* Fiber.interrupt(fiber)
      })
  )

  it.effect("bad batch options are a SettingsError naming the field", () =>
    Effect.gen(function* () {
      const { consumer } = yield* FakeDriver.consumer()
      for (const [batch, setting] of [
        [{ size: 0, within: "1 second" }, "batch.size"],
        [{ size: -3, within: "1 second" }, "batch.size"],
        [{ size: Number.NaN, within: "1 second" }, "batch.size"],
        [{ size: 2.5, within: "1 second" }, "batch.size"],
        [{ size: 10, within: 0 }, "batch.within"],
        [{ size: 10, within: Number.POSITIVE_INFINITY }, "batch.within"],
        [{ size: 10, within: "soon" as never }, "batch.within"]
      ] as const) {
        const error = yield* Effect.flip(consumer.runBatch({ topics: ["t"], batch, handler: () => Effect.void }))
        expect(error).toMatchObject({ _tag: "SettingsError", setting })
      }
    })
  )

  it("a batch pipeline's handler takes a chunk of typed records, a record pipeline's one record (types)", () => {
    const notes = Topic.make({ name: "notes", value: Codec.string })
    const batched = Pipeline.make({
      topic: notes,
      batch: { size: 10, within: "1 second" },
      handler: (records) => (Chunk.some(records, (r) => r.value === "") ? Effect.fail("empty" as const) : Effect.void)
    })
    const _batched: Pipeline.Pipeline<"empty", never> = batched
    const single = Pipeline.make({ topic: notes, handler: (record) => Effect.log(record.value.length) })
    const _single: Pipeline.Pipeline<never, never> = single
    Pipeline.make({
      topic: notes,
      batch: { size: 10, within: "1 second" },
      // @ts-expect-error: a batch handler takes a chunk, not a record
      handler: (record: Topic.RecordOf<typeof notes>) => Effect.log(record.value)
    })
    Pipeline.make({
      topic: notes,
      // @ts-expect-error: without batch, the handler takes one record
      handler: (records: Chunk.Chunk<Topic.RecordOf<typeof notes>>) => Effect.log(Chunk.size(records))
    })
    // The checks above are the compiler's (tsc -b runs over this file); at run time, the options are kept.
    expect(_batched.batch).toEqual({ size: 10, within: "1 second" })
    expect(_single.batch).toBeUndefined()
  })
})
