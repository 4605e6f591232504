import { describe, expect, it } from "@effect/vitest"
import * as Admin from "@sluice/core/Admin"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import { suite } from "../src/AdminConformance.js"
import { maxPartitions } from "../src/internal/memory/admin.js"
import * as MemoryKafka from "../src/MemoryKafka.js"

// The admin service on the simulated cluster, under the live clock (the suite is written for
// real brokers too): short timeouts keep the member tests fast.
suite("memory", MemoryKafka.layer({ seed: 1 }), {
  sessionTimeout: "1 second",
  heartbeatInterval: "100 millis",
  patience: "20 seconds",
  testTimeout: 60_000
})

const encoder = new TextEncoder()

const record = (topic: string, partition: number, timestamp?: number) => ({
  topic,
  partition,
  key: null,
  value: encoder.encode("x"),
  ...(timestamp === undefined ? {} : { timestamp })
})

describe("memory: admin", () => {
  it.effect("a topic created without a partition count gets the cluster's; its partitions have no leader", () =>
    Effect.gen(function* () {
      const admin = yield* Admin.Admin
      yield* admin.createTopics([{ name: "orders" }])
      const [orders] = yield* admin.describeTopics(["orders"])
      expect(orders?.partitions).toEqual(
        [0, 1, 2].map((partition) => ({
          partition,
          leader: undefined,
          replicas: [],
          isr: [],
          startOffset: 0,
          endOffset: 0
        }))
      )
    }).pipe(Effect.provide(MemoryKafka.layer({ partitions: 3 })))
  )

  it.effect(`more than ${maxPartitions} partitions are refused by the simulated cluster`, () =>
    Effect.gen(function* () {
      const admin = yield* Admin.Admin
      const error = yield* Effect.flip(admin.createTopics([{ name: "huge", partitions: maxPartitions + 1 }]))
      expect(error).toMatchObject({ reason: "InvalidArgument", field: "partitions" })
      expect(yield* admin.listTopics).toEqual([])
    }).pipe(Effect.provide(MemoryKafka.layer()))
  )

  it.effect("a reset is in the commit log as a commit from outside the group: no member, generation -1", () =>
    Effect.gen(function* () {
      const admin = yield* Admin.Admin
      const kafka = yield* MemoryKafka.MemoryKafka
      yield* kafka.createTopic("orders", 2)
      yield* kafka.produce([record("orders", 0), record("orders", 0), record("orders", 1)])
      yield* admin.resetOffsets({ groupId: "billing", topic: "orders", to: Admin.latest })
      const log = yield* kafka.commitLog("billing")
      expect(log.map((e) => [e.memberId, e.generation, e.partition, e.offset])).toEqual([
        ["", -1, 0, 2],
        ["", -1, 1, 1]
      ])
      expect(yield* admin.listGroups).toEqual(["billing"])
    }).pipe(Effect.provide(MemoryKafka.layer()))
  )

  it.effect("timestamps are the records' own or the Clock's at produce: a reset to a time finds them", () =>
    Effect.gen(function* () {
      const admin = yield* Admin.Admin
      const kafka = yield* MemoryKafka.MemoryKafka
      yield* kafka.createTopic("clicks", 1)
      yield* TestClock.setTime(10_000)
      yield* kafka.produce([record("clicks", 0), record("clicks", 0)])
      yield* TestClock.setTime(20_000)
      // Out of order: the first record at or after the time counts, as in a broker's time index.
      yield* kafka.produce([record("clicks", 0), record("clicks", 0, 5_000), record("clicks", 0)])
      const reset = (at: number) =>
        Effect.map(admin.resetOffsets({ groupId: "g", topic: "clicks", to: Admin.timestamp(at) }), (o) => o[0]?.offset)
      expect(yield* reset(0)).toBe(0)
      expect(yield* reset(10_000)).toBe(0)
      expect(yield* reset(10_001)).toBe(2)
      expect(yield* reset(20_000)).toBe(2)
      expect(yield* reset(20_001)).toBe(5)
    }).pipe(Effect.provide(MemoryKafka.layer()))
  )

  it.effect("deleting a topic forgets its committed offsets; a topic created again under its name starts empty", () =>
    Effect.gen(function* () {
      const admin = yield* Admin.Admin
      const kafka = yield* MemoryKafka.MemoryKafka
      yield* admin.createTopics([
        { name: "a", partitions: 1 },
        { name: "b", partitions: 1 }
      ])
      yield* kafka.produce([record("a", 0), record("b", 0)])
      yield* admin.resetOffsets({ groupId: "g", topic: "a", to: Admin.latest })
      yield* admin.resetOffsets({ groupId: "g", topic: "b", to: Admin.latest })
      yield* admin.deleteTopics(["a"])
      expect((yield* admin.describeGroup("g")).offsets.map((o) => o.topic)).toEqual(["b"])
      expect(yield* kafka.committed("g", "a")).toEqual(new Map())
      yield* admin.createTopics([{ name: "a", partitions: 2 }])
      const [a] = yield* admin.describeTopics(["a"])
      expect(a?.partitions.map((p) => p.endOffset)).toEqual([0, 0])
    }).pipe(Effect.provide(MemoryKafka.layer()))
  )

  it.effect(
    "property: any invalid partition count, replication factor or topic name is refused, naming the field",
    () =>
      Effect.gen(function* () {
        const admin = yield* Admin.Admin
        const badCount = fc.oneof(
          fc.integer({ max: 0 }),
          fc.double({ noInteger: true }),
          fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 31, Number.MAX_VALUE)
        )
        const badName = fc.oneof(
          fc.constantFrom("", ".", "..", "x".repeat(250)),
          fc.string({ minLength: 1 }).filter((s) => !/^[a-zA-Z0-9._-]+$/.test(s))
        )
        const samples = fc.sample(
          fc.oneof(
            fc.record({ field: fc.constant("topics[0].partitions"), partitions: badCount, name: fc.constant("t") }),
            fc.record({
              field: fc.constant("topics[0].replicationFactor"),
              replicationFactor: badCount,
              name: fc.constant("t")
            }),
            fc.record({ field: fc.constant("topics[0].name"), name: badName })
          ),
          { numRuns: 300, seed: 12 }
        )
        for (const { field, ...topic } of samples) {
          const error = yield* Effect.flip(admin.createTopics([topic]))
          expect(error).toMatchObject({ _tag: "AdminError", reason: "InvalidArgument", field })
        }
        expect(yield* admin.listTopics).toEqual([])
      }).pipe(Effect.provide(MemoryKafka.layer()))
  )
})
