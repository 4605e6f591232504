/**
 * What the engine keeps of a record once it is finished: nothing. A record's bytes are usually
 * views into the client's whole fetch response (kafkajs: up to `maxBytes`), so one finished record
 * kept by an idle worker keeps that whole response alive until the partition's next record.
 */
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { describe, expect, it } from "@effect/vitest"
import * as Codec from "@sluice/core/Codec"
import type { RawRecord } from "@sluice/core/ConsumerRecord"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as Topic from "@sluice/core/Topic"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as FakeDriver from "./fakeDriver.js"

v8.setFlagsFromString("--expose-gc")
/** A full collection: `gc` of a context made after the flag was set. */
const gc = vm.runInNewContext("gc") as () => void

const tp0 = { topic: "t", partition: 0 }

/**
 * Assigns partition 0 and delivers `records` (offsets 0–4) keeping only weak references to them
 * (the delivery array and its records are the engine's), then, once offset 5 is committed and the
 * consumer idles, expects none of them to be reachable after a full collection.
 */
const expectReleased = (fake: FakeDriver.FakeDriver, records: Array<RawRecord>) =>
  Effect.gen(function* () {
    const listener = yield* Deferred.await(fake.listener)
    yield* listener.onAssigned([FakeDriver.assignment(tp0)])
    const refs = records.map((r) => new WeakRef(r))
    yield* listener.onRecords(tp0, records.splice(0))
    yield* FakeDriver.waitFor(() => FakeDriver.lastCommit(fake.commits, 0) === 5, "the commit of offset 5")
    yield* Effect.sleep("20 millis")
    gc()
    yield* Effect.sleep("1 millis")
    expect(refs.filter((ref) => ref.deref() !== undefined).map((ref) => ref.deref()!.offset)).toEqual([])
  })

const modes = {
  partition: ProcessingMode.partition,
  keyed: ProcessingMode.keyed({ concurrency: 4 }),
  unordered: ProcessingMode.unordered({ concurrency: 4 })
}

describe("retention", () => {
  for (const [name, mode] of Object.entries(modes)) {
    it.scopedLive(`${name}: a worker waiting for records keeps none of the records it finished`, () =>
      Effect.gen(function* () {
        const { consumer, fake } = yield* FakeDriver.consumer()
        const fiber = yield* Effect.fork(consumer.run({ topics: ["t"], mode, handler: () => Effect.void }))
        const keyed = FakeDriver.records(tp0, 0, 5).map((r) => ({ ...r, key: new Uint8Array([r.offset % 2]) }))
        yield* expectReleased(fake, keyed)
        yield* Fiber.interrupt(fiber)
      })
    )
  }

  it.scopedLive("batch: a worker waiting for records keeps none of the chunks it finished", () =>
    Effect.gen(function* () {
      const { consumer, fake } = yield* FakeDriver.consumer()
      const fiber = yield* Effect.fork(
        consumer.runBatch({ topics: ["t"], batch: { size: 2, within: "1 millis" }, handler: () => Effect.void })
      )
      yield* expectReleased(fake, FakeDriver.records(tp0, 0, 5))
      yield* Fiber.interrupt(fiber)
    })
  )

  it.scopedLive("stream: once the user committed them, the partition's stream keeps none of its records", () =>
    Effect.gen(function* () {
      const { consumer, fake } = yield* FakeDriver.consumer()
      const fiber = yield* Effect.fork(
        consumer
          .stream(Topic.make({ name: "t", key: Codec.bytes, value: Codec.bytes }))
          .pipe(Stream.runForEach((r) => r.offset.commit))
      )
      yield* expectReleased(fake, FakeDriver.records(tp0, 0, 5))
      yield* Fiber.interrupt(fiber)
    })
  )
})
