/**
 * The typed stream API on the scripted driver: `Consumer.stream` and `Consumer.partitionedStream`
 * decode with the topic's codecs, commit only what the user committed (through the frontier),
 * and end a partition's records when it is revoked.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Codec from "@sluice/core/Codec"
import * as CommittableRecord from "@sluice/core/CommittableRecord"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as Topic from "@sluice/core/Topic"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as FakeDriver from "./fakeDriver.js"

const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })
const orders = Topic.make({ name: "orders", key: Codec.nullable(Codec.string), value: Codec.json(Order) })
const tp0 = { topic: "orders", partition: 0 }
const tp1 = { topic: "orders", partition: 1 }
const encoder = new TextEncoder()
const order = (tp: { topic: string; partition: number }, offset: number) => ({
  ...FakeDriver.record(tp, offset),
  value: encoder.encode(JSON.stringify({ id: `o${tp.partition}-${offset}`, amount: offset }))
})
const orderRecords = (tp: { topic: string; partition: number }, from: number, count: number) =>
  Array.from({ length: count }, (_, i) => order(tp, from + i))
const poison = (tp: { topic: string; partition: number }, offset: number) => ({
  ...FakeDriver.record(tp, offset),
  value: encoder.encode("{not json")
})

describe("typed streams (scripted driver)", () => {
  it.scopedLive("Consumer.stream decodes every partition's records; commitWithin commits each group", () =>
    Effect.gen(function* () {
      const { consumer, fake } = yield* FakeDriver.consumer({ commitInterval: "1 hour" })
      const seen: Array<string> = []
      const batches: Array<CommittableRecord.CommittableOffsetBatch> = []
      const fiber = yield* Effect.fork(
        consumer.stream(orders).pipe(
          Stream.tap((r) => Effect.sync(() => seen.push(r.record.value.id))),
          CommittableRecord.commitWithin(5, "20 millis"),
          Stream.runForEach((batch) => Effect.sync(() => batches.push(batch)))
        )
      )
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([FakeDriver.assignment(tp0), FakeDriver.assignment(tp1)])
      yield* listener.onRecords(tp0, orderRecords(tp0, 0, 10))
      yield* listener.onRecords(tp1, orderRecords(tp1, 0, 3))
      yield* FakeDriver.waitFor(
        () => FakeDriver.lastCommit(fake.commits, 0) === 10 && FakeDriver.lastCommit(fake.commits, 1) === 3,
        "both commits"
      )
      expect(seen.filter((id) => id.startsWith("o0-"))).toEqual(Array.from({ length: 10 }, (_, i) => `o0-${i}`))
      expect(seen.filter((id) => id.startsWith("o1-"))).toEqual(["o1-0", "o1-1", "o1-2"])
      // Each group commits its highest offset per partition: never more than five records' worth.
      expect(batches.length).toBeGreaterThanOrEqual(3)
      for (const batch of batches) expect(batch.offsets.size).toBeGreaterThan(0)
      yield* Fiber.interrupt(fiber)
      expect(fake.left).toBe(true)
    })
  )

  it.scopedLive("G1 a record that cannot be decoded fails the stream; no commit passes it", () =>
    Effect.gen(function* () {
      const { consumer, fake } = yield* FakeDriver.consumer({ revocation: ConsumerSettings.drain("100 millis") })
      const seen: Array<number> = []
      const fiber = yield* Effect.fork(
        consumer.stream(orders).pipe(
          Stream.tap((r) => Effect.sync(() => seen.push(r.record.offset))),
          CommittableRecord.commitWithin(1, "10 millis"),
          Stream.runDrain
        )
      )
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([FakeDriver.assignment(tp0)])
      yield* listener.onRecords(tp0, [order(tp0, 0), order(tp0, 1), poison(tp0, 2), order(tp0, 3)])
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
        expect(exit.cause.error).toMatchObject({ _tag: "DecodeError", offset: 2, field: "value" })
      }
      expect(seen).toEqual([0, 1])
      expect(Math.max(...fake.commits.map((c) => c.offset))).toBe(2)
    })
  )

  it.scopedLive("onDecodeError: skip passes a poison record and commits past it", () =>
    Effect.gen(function* () {
      const { consumer, fake } = yield* FakeDriver.consumer()
      const seen: Array<number> = []
      const fiber = yield* Effect.fork(
        consumer.stream(orders, { onDecodeError: "skip" }).pipe(
          Stream.tap((r) => Effect.sync(() => seen.push(r.record.offset))),
          CommittableRecord.commitWithin(10, "10 millis"),
          Stream.runDrain
        )
      )
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([FakeDriver.assignment(tp0)])
      yield* listener.onRecords(tp0, [order(tp0, 0), poison(tp0, 1), order(tp0, 2)])
      yield* FakeDriver.waitFor(() => FakeDriver.lastCommit(fake.commits, 0) === 3, "the commit past the poison record")
      expect(seen).toEqual([0, 2])
      yield* Fiber.interrupt(fiber)
    })
  )

  it.scopedLive(
    "G1 G4 partitionedStream: revocation ends the partition's records; only what the user committed is committed",
    () =>
      Effect.gen(function* () {
        const { consumer, fake } = yield* FakeDriver.consumer({ revocation: ConsumerSettings.drain("200 millis") })
        const ended: Array<number> = []
        const seen: Array<{ partition: number; offset: number }> = []
        const fiber = yield* Effect.fork(
          consumer.partitionedStream(orders).pipe(
            Stream.flatMap(
              (partition) =>
                partition.records.pipe(
                  Stream.tap((r) =>
                    Effect.sync(() => seen.push({ partition: r.record.partition, offset: r.record.offset }))
                  ),
                  // The user finishes only the first 5 records of each partition.
                  Stream.filter((r) => r.record.offset < 5),
                  CommittableRecord.commitWithin(1, "10 millis"),
                  Stream.onEnd(Effect.sync(() => ended.push(partition.topicPartition.partition)))
                ),
              { concurrency: "unbounded" }
            ),
            Stream.runDrain
          )
        )
        const listener = yield* Deferred.await(fake.listener)
        yield* listener.onAssigned([FakeDriver.assignment(tp0), FakeDriver.assignment(tp1)])
        yield* listener.onRecords(tp0, orderRecords(tp0, 0, 10))
        yield* listener.onRecords(tp1, orderRecords(tp1, 0, 10))
        yield* FakeDriver.waitFor(() => seen.length === 20, "every record")
        yield* FakeDriver.waitFor(() => FakeDriver.lastCommit(fake.commits, 0) === 5, "the user's commits")
        // The revocation waits (up to the drain timeout) for records 5..9 that are never committed.
        const started = Date.now()
        yield* listener.onRevoked([tp0])
        expect(Date.now() - started).toBeGreaterThanOrEqual(150)
        expect(ended).toEqual([0])
        expect(FakeDriver.lastCommit(fake.commits, 0)).toBe(5)
        // Records arriving after the revocation are not delivered; p1 goes on.
        yield* listener.onRecords(tp0, orderRecords(tp0, 10, 5))
        yield* listener.onRecords(tp1, orderRecords(tp1, 10, 5))
        yield* FakeDriver.waitFor(() => seen.length === 25, "p1's new records")
        expect(seen.filter((s) => s.partition === 0).length).toBe(10)
        expect(ended).toEqual([0])
        yield* Fiber.interrupt(fiber)
      })
  )

  it.scopedLive("G2 a commit of a record from before the revocation is ignored", () =>
    Effect.gen(function* () {
      const { consumer, fake } = yield* FakeDriver.consumer({ revocation: ConsumerSettings.interrupt })
      const held: Array<CommittableRecord.CommittableRecord<string | null, typeof Order.Type>> = []
      const fiber = yield* Effect.fork(
        consumer.stream(orders).pipe(Stream.runForEach((r) => Effect.sync(() => held.push(r))))
      )
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([FakeDriver.assignment(tp0)])
      yield* listener.onRecords(tp0, orderRecords(tp0, 0, 3))
      yield* FakeDriver.waitFor(() => held.length === 3, "the records")
      yield* held[0]!.offset.commit
      yield* listener.onRevoked([tp0])
      const before = fake.commits.length
      yield* CommittableRecord.commitBatch(CommittableRecord.fromOffsets(held.map((r) => r.offset)))
      expect(fake.commits.length).toBe(before)
      expect(FakeDriver.lastCommit(fake.commits, 0)).toBe(1)
      yield* Fiber.interrupt(fiber)
    })
  )

  it.scopedLive("a stream over several topics decodes each record with its own topic", () =>
    Effect.gen(function* () {
      const { consumer, fake } = yield* FakeDriver.consumer()
      const refunds = Topic.make({ name: "refunds", key: Codec.nullable(Codec.string), value: Codec.json(Order) })
      const tpRefunds = { topic: "refunds", partition: 0 }
      const seen = yield* Effect.fork(
        consumer.stream([orders, refunds]).pipe(
          Stream.map((r) => `${r.record.topic}:${r.record.value.id}`),
          Stream.take(2),
          Stream.runCollect
        )
      )
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([FakeDriver.assignment(tp0), FakeDriver.assignment(tpRefunds)])
      yield* listener.onRecords(tp0, [order(tp0, 0)])
      yield* listener.onRecords(tpRefunds, [order(tpRefunds, 0)])
      expect([...Chunk.toReadonlyArray(yield* Fiber.join(seen))].sort()).toEqual(["orders:o0-0", "refunds:o0-0"])
    })
  )

  it.scopedLive("bad input is a SettingsError naming the field: commitWithin's count and interval, a topic name", () =>
    Effect.gen(function* () {
      const { consumer } = yield* FakeDriver.consumer()
      for (const [count, interval, setting] of [
        [0, "1 second", "commitWithin.count"],
        [Number.NaN, "1 second", "commitWithin.count"],
        [1.5, "1 second", "commitWithin.count"],
        [10, -1, "commitWithin.interval"],
        [10, Number.POSITIVE_INFINITY, "commitWithin.interval"]
      ] as const) {
        const error = yield* Stream.empty.pipe(
          CommittableRecord.commitWithin(count, interval),
          Stream.runDrain,
          Effect.flip
        )
        expect(error).toMatchObject({ _tag: "SettingsError", setting })
      }
      const badTopic = yield* consumer.stream(Topic.make({ name: "" })).pipe(Stream.runDrain, Effect.flip)
      expect(badTopic).toMatchObject({ _tag: "SettingsError", setting: "topic.name" })
      const badGroup = yield* consumer.partitionedStream(orders, { groupId: " " }).pipe(Stream.runDrain, Effect.flip)
      expect(badGroup).toMatchObject({ _tag: "SettingsError", setting: "groupId" })
    })
  )
})
