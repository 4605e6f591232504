/**
 * The lag screen's text, from a group description: the heading, a row per partition, bars
 * scaled to the largest lag, partitions without a committed offset or an owner; `show` on the
 * simulated cluster's `Admin` (any driver's works): JSON, and a screen per interval.
 */
import { describe, expect, it } from "@effect/vitest"
import type { GroupDescription } from "@sluice/core/Admin"
import * as Admin from "@sluice/core/Admin"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { vi } from "vitest"
import * as Lag from "../src/Lag.js"

const group: GroupDescription = {
  groupId: "billing",
  state: "Stable",
  members: [
    {
      memberId: "billing-1-aaa",
      clientId: "billing-1",
      host: "10.0.0.7",
      assignment: [{ topic: "orders", partition: 0 }]
    }
  ],
  offsets: [
    { topic: "orders", partition: 0, committed: 90, endOffset: 100, lag: 10 },
    { topic: "orders", partition: 1, committed: undefined, endOffset: 40, lag: undefined },
    { topic: "orders", partition: 2, committed: 50, endOffset: 50, lag: 0 }
  ],
  lag: 10
}

describe("Lag.render", () => {
  it("a heading, then a row per partition with its bar and owner; none where nothing is known", () => {
    const text = Lag.render(group, { barWidth: 10, brokers: "k:9092", at: new Date("2026-01-02T03:04:05Z") })
    expect(text.split("\n")).toEqual([
      "group billing  state Stable  members 1  lag 10  brokers k:9092  at 03:04:05Z",
      "",
      "TOPIC   PARTITION  COMMITTED  END  LAG              OWNER          CLIENT     HOST",
      "orders  0          90         100  10   ██████████  billing-1-aaa  billing-1  10.0.0.7",
      "orders  1          -          40   -                -              -          -",
      "orders  2          50         50   0    ░░░░░░░░░░  -              -          -"
    ])
  })

  it("a small lag still shows one character; a group without partitions says so", () => {
    expect(Lag.bar(1, 1000, 20)).toBe(`█${"░".repeat(19)}`)
    expect(Lag.bar(undefined, 10, 4)).toBe("    ")
    expect(Lag.render({ ...group, members: [], offsets: [], lag: 0, state: "Empty" })).toBe(
      "group billing  state Empty  members 0  lag 0\n\n(no partitions: the group has no committed offsets and no assignment)"
    )
  })
})

describe("Lag.show on the simulated cluster's Admin", () => {
  const setup = Effect.gen(function* () {
    const kafka = yield* MemoryKafka.MemoryKafka
    yield* kafka.createTopic("orders", 2)
    yield* kafka.produce(
      Array.from({ length: 6 }, (_, i) => ({
        topic: "orders",
        partition: i % 2,
        key: null,
        value: new TextEncoder().encode(String(i)),
        headers: []
      }))
    )
    const admin = yield* Admin.Admin
    yield* admin.resetOffsets({ groupId: "billing", topic: "orders", to: Admin.offsets([{ partition: 0, offset: 1 }]) })
  })

  it.effect("--json prints the group as Admin describes it; --watch a screen per interval", () =>
    Effect.gen(function* () {
      yield* setup
      const lines: Array<string> = []
      const spy = vi.spyOn(console, "log").mockImplementation((line: unknown) => {
        lines.push(String(line))
      })
      try {
        yield* Lag.show({ groupId: "billing", brokers: "memory", timeout: "5 seconds", json: true })
        const expected = yield* Effect.flatMap(Admin.Admin, (admin) => admin.describeGroup("billing"))
        expect(lines.map((l) => JSON.parse(l))).toEqual([JSON.parse(JSON.stringify(expected))])
        expect(expected.offsets.map((o) => [o.partition, o.committed, o.endOffset, o.lag])).toEqual([
          [0, 1, 3, 2],
          [1, undefined, 3, undefined]
        ])

        lines.length = 0
        const watching = yield* Effect.fork(
          Lag.show({ groupId: "billing", brokers: "memory", timeout: "5 seconds", watch: { interval: "2 seconds" } })
        )
        yield* TestClock.adjust("5 seconds")
        yield* Fiber.interrupt(watching)
        // A screen at 0 s, 2 s and 4 s, separated by blank lines.
        expect(lines.filter((l) => l.startsWith("group billing  state Empty  members 0  lag 2"))).toHaveLength(3)
        expect(lines.filter((l) => l === "")).toHaveLength(2)
      } finally {
        spy.mockRestore()
      }
    }).pipe(Effect.provide(MemoryKafka.layer({ seed: 2 })))
  )

  it.effect("an unknown group is a LagError with reason UnknownGroup", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Lag.describe("nobody", { timeout: "5 seconds" }))
      expect(error).toMatchObject({
        _tag: "LagError",
        reason: "UnknownGroup",
        message: 'group "nobody" not found: it has no members and no committed offsets'
      })
    }).pipe(Effect.provide(MemoryKafka.layer({ seed: 3 })))
  )
})
