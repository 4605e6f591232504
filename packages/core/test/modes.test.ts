import { describe, expect, it } from "@effect/vitest"
import type * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as OffsetMetadata from "@sluice/core/OffsetMetadata"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as fc from "fast-check"
import * as FakeDriver from "./fakeDriver.js"

const tp0 = { topic: "t", partition: 0 }
const encoder = new TextEncoder()
const keyedRecords = (count: number, keys: number) =>
  FakeDriver.records(tp0, 0, count).map((r) => ({ ...r, key: encoder.encode(`k${r.offset % keys}`) }))

const start = (input: Partial<ConsumerSettings.Input> = {}) =>
  FakeDriver.consumer({ commitInterval: "10 millis", ...input })

/** Counts the handlers running at once; `max` is the most seen (G6). */
const inFlight = () => {
  const count = { now: 0, max: 0 }
  const during = <E, R>(effect: Effect.Effect<void, E, R>): Effect.Effect<void, E, R> =>
    Effect.suspend(() => {
      count.max = Math.max(count.max, ++count.now)
      return Effect.ensuring(
        effect,
        Effect.sync(() => count.now--)
      )
    })
  return { count, during }
}

describe("keyed and unordered modes", () => {
  it.scopedLive(
    "G5 keyed: never two records of a key at once, each key in offset order; G6 in flight ≤ concurrency",
    () =>
      Effect.gen(function* () {
        const { consumer, fake } = yield* start()
        const calls: Array<{ key: string; offset: number; start: number; end: number }> = []
        const running = inFlight()
        const fiber = yield* Effect.fork(
          consumer.run({
            topics: ["t"],
            mode: ProcessingMode.keyed({ concurrency: 8 }),
            handler: (r) =>
              running.during(
                Effect.gen(function* () {
                  const begin = performance.now()
                  yield* Effect.sleep(`${(r.offset * 7) % 5} millis`)
                  calls.push({
                    key: new TextDecoder().decode(r.key!),
                    offset: r.offset,
                    start: begin,
                    end: performance.now()
                  })
                })
              )
          })
        )
        const listener = yield* Deferred.await(fake.listener)
        yield* listener.onAssigned([{ topicPartition: tp0, committed: undefined }])
        yield* listener.onRecords(tp0, keyedRecords(300, 20))
        for (let i = 0; i < 1000 && fake.commits.at(-1)?.offset !== 300; i++) yield* Effect.sleep("5 millis")
        expect(fake.commits.at(-1)?.offset).toBe(300)
        expect(running.count.max).toBeLessThanOrEqual(8)
        expect(running.count.max).toBeGreaterThan(1)
        const byKey = new Map<string, typeof calls>()
        for (const c of calls) byKey.set(c.key, [...(byKey.get(c.key) ?? []), c])
        for (const list of byKey.values()) {
          list.sort((a, b) => a.start - b.start)
          for (let i = 1; i < list.length; i++) {
            expect(list[i]!.offset).toBeGreaterThan(list[i - 1]!.offset)
            expect(list[i]!.start).toBeGreaterThanOrEqual(list[i - 1]!.end)
          }
        }
        yield* Fiber.interrupt(fiber)
      })
  )

  it.scopedLive(
    "G1 unordered: the commit names the frontier while later records finish, and metadata carries them",
    () =>
      Effect.gen(function* () {
        const { consumer, fake } = yield* start()
        const gate = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(
          consumer.run({
            topics: ["t"],
            mode: ProcessingMode.unordered({ concurrency: 50 }),
            handler: (r) => (r.offset === 3 ? Deferred.await(gate) : Effect.void)
          })
        )
        const listener = yield* Deferred.await(fake.listener)
        yield* listener.onAssigned([{ topicPartition: tp0, committed: undefined }])
        yield* listener.onRecords(tp0, FakeDriver.records(tp0, 0, 20))
        for (let i = 0; i < 200 && !fake.commits.some((c) => c.metadata !== ""); i++) yield* Effect.sleep("5 millis")
        const stuck = fake.commits.at(-1)!
        expect(stuck.offset).toBe(3)
        expect(OffsetMetadata.decode(3, stuck.metadata)).toEqual(Array.from({ length: 16 }, (_, i) => 4 + i))
        yield* Deferred.succeed(gate, undefined)
        for (let i = 0; i < 200 && fake.commits.at(-1)?.offset !== 20; i++) yield* Effect.sleep("5 millis")
        expect(fake.commits.at(-1)).toMatchObject({ offset: 20, metadata: "" })
        yield* Fiber.interrupt(fiber)
      })
  )

  it.scopedLive("G5 keyed: a key is all of its bytes, however long and whatever their values", () =>
    Effect.gen(function* () {
      const { consumer, fake } = yield* start()
      const long = new Uint8Array(10_000).fill(7)
      // Two long keys that differ only in their last byte, and two one-byte keys above 0x7f.
      const keys = [long, Uint8Array.from(long).fill(8, 9_999), Uint8Array.of(0xfe), Uint8Array.of(0xff)]
      const perKey = keys.map(() => inFlight())
      const running = inFlight()
      const fiber = yield* Effect.fork(
        consumer.run({
          topics: ["t"],
          mode: ProcessingMode.keyed({ concurrency: 8 }),
          handler: (r) => running.during(perKey[r.offset % keys.length]!.during(Effect.sleep("20 millis")))
        })
      )
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([{ topicPartition: tp0, committed: undefined }])
      yield* listener.onRecords(
        tp0,
        FakeDriver.records(tp0, 0, 8).map((r) => ({ ...r, key: keys[r.offset % keys.length]! }))
      )
      for (let i = 0; i < 400 && fake.commits.at(-1)?.offset !== 8; i++) yield* Effect.sleep("5 millis")
      expect(fake.commits.at(-1)?.offset).toBe(8)
      for (const key of perKey) expect(key.count.max).toBe(1)
      // Four distinct keys, so four records side by side: no two keys were taken for one.
      expect(running.count.max).toBe(keys.length)
      yield* Fiber.interrupt(fiber)
    })
  )

  it.scopedLive("G7 an owner that starts from commit metadata skips the records already finished", () =>
    Effect.gen(function* () {
      const { consumer, fake } = yield* start()
      const seen: Array<number> = []
      const fiber = yield* Effect.fork(
        consumer.run({
          topics: ["t"],
          mode: ProcessingMode.unordered({ concurrency: 10 }),
          handler: (r) => Effect.sync(() => seen.push(r.offset))
        })
      )
      const listener = yield* Deferred.await(fake.listener)
      const finished = [6, 7, 8, 10, 12, 13, 14, 15]
      yield* listener.onAssigned([
        { topicPartition: tp0, committed: { offset: 5, metadata: OffsetMetadata.encode(5, finished) } }
      ])
      yield* listener.onRecords(tp0, FakeDriver.records(tp0, 5, 15))
      for (let i = 0; i < 200 && fake.commits.at(-1)?.offset !== 20; i++) yield* Effect.sleep("5 millis")
      expect(seen.sort((a, b) => a - b)).toEqual([5, 9, 11, 16, 17, 18, 19])
      yield* Fiber.interrupt(fiber)
    })
  )

  it.scopedLive("G6 the window limit pauses the partition and resumes it once the frontier moves", () =>
    Effect.gen(function* () {
      const { consumer, fake } = yield* start({ maxWindow: 10, buffer: { perPartition: 1000, total: 1000 } })
      const gate = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        consumer.run({
          topics: ["t"],
          mode: ProcessingMode.unordered({ concurrency: 100 }),
          handler: (r) => (r.offset === 0 ? Deferred.await(gate) : Effect.void)
        })
      )
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([{ topicPartition: tp0, committed: undefined }])
      yield* listener.onRecords(tp0, FakeDriver.records(tp0, 0, 12))
      expect(fake.controls.map((c) => c.op)).toEqual(["pause"])
      yield* Deferred.succeed(gate, undefined)
      for (let i = 0; i < 200 && fake.controls.length < 2; i++) yield* Effect.sleep("5 millis")
      expect(fake.controls.map((c) => c.op)).toEqual(["pause", "resume"])
      yield* Fiber.interrupt(fiber)
    })
  )
})

describe("OffsetMetadata", () => {
  const finishedArb = fc
    .tuple(fc.nat({ max: 1_000_000 }), fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 2000 }))
    .map(([frontier, steps]) => {
      let offset = frontier
      return { frontier, finished: steps.map((step) => (offset += step)) }
    })

  it("decode(encode(s)) = s", () => {
    fc.assert(
      fc.property(finishedArb, ({ frontier, finished }) => {
        expect(OffsetMetadata.decode(frontier, OffsetMetadata.encode(frontier, finished))).toEqual(finished)
      }),
      { numRuns: 500 }
    )
  })

  it("the wire format is unchanged: known sets encode to the bytes Sluice 0.1 wrote", () => {
    const examples: Array<[number, Array<number>, string]> = [
      [0, [2], "sluice:1:b:BA=="],
      [10, [11, 12, 13, 20], "sluice:1:b:DgQ="],
      [100, Array.from({ length: 300 }, (_, i) => 101 + i), "sluice:1:r:AawC"],
      [5, [6, 8, 9, 13, 14, 15, 21, 34, 40, 41, 42, 43], "sluice:1:b:GgcBIHg="],
      [1_000_000, [1_000_001, 1_000_300, 1_200_000], "sluice:1:r:AQGqAgGTmAwB"],
      [7, [9, 10, 12], "sluice:1:b:LA=="]
    ]
    for (const [frontier, finished, text] of examples) {
      expect(OffsetMetadata.encode(frontier, finished)).toBe(text)
      expect(OffsetMetadata.decode(frontier, text)).toEqual(finished)
    }
  })

  it("the base64 is what Node's Buffer writes, byte for byte", () => {
    fc.assert(
      fc.property(finishedArb, ({ frontier, finished }) => {
        const text = OffsetMetadata.encode(frontier, finished)
        const payload = text.slice("sluice:1:r:".length)
        // Node's encoding of the bytes the payload stands for is the payload itself: canonical, padded.
        expect(Buffer.from(payload, "base64").toString("base64")).toBe(payload)
      }),
      { numRuns: 500 }
    )
  })

  it("any set within the widest window fits in 4,096 bytes", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 1_000_000 }),
        fc.array(fc.boolean(), {
          minLength: OffsetMetadata.maxEncodableWindow - 1,
          maxLength: OffsetMetadata.maxEncodableWindow - 1
        }),
        (frontier, bits) => {
          const finished = bits.flatMap((b, i) => (b ? [frontier + 1 + i] : []))
          expect(Buffer.byteLength(OffsetMetadata.encode(frontier, finished))).toBeLessThanOrEqual(
            OffsetMetadata.maxBytes
          )
        }
      ),
      { numRuns: 50 }
    )
  })

  it("foreign or corrupt metadata decodes to nothing (redo rather than skip)", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const decoded = OffsetMetadata.decode(0, text)
        if (!text.startsWith("sluice:1:")) expect(decoded).toEqual([])
      })
    )
  })
})
