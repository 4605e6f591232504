import { describe, expect, it } from "@effect/vitest"
import * as Consumer from "@sluice/core/Consumer"
import type { ConsumerRecord } from "@sluice/core/ConsumerRecord"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { pipe } from "effect/Function"
import * as TestClock from "effect/TestClock"
import * as HandlerFaults from "../src/HandlerFaults.js"
import * as HandlerProbe from "../src/HandlerProbe.js"
import * as MemoryKafka from "../src/MemoryKafka.js"

const rec = (offset: number, partition = 0) => ({ topic: "t", partition, offset, key: null })

const run = <E>(handler: (r: ReturnType<typeof rec>) => Effect.Effect<void, E>, offsets: ReadonlyArray<number>) =>
  Effect.forEach(offsets, (o) => Effect.either(handler(rec(o))))

describe("memory: HandlerFaults", () => {
  it.effect("failAt fails the matching offsets, every time or their first attempts", () =>
    Effect.gen(function* () {
      const always = HandlerFaults.failAt((_: ReturnType<typeof rec>) => Effect.void, [2, 4])
      const results = yield* run(always, [1, 2, 3, 4, 2])
      expect(results.map((r) => r._tag)).toEqual(["Right", "Left", "Right", "Left", "Left"])
      const once = pipe((_: ReturnType<typeof rec>) => Effect.void, HandlerFaults.failAt([2], { times: 1 }))
      expect((yield* run(once, [2, 2])).map((r) => r._tag)).toEqual(["Left", "Right"])
      const byPredicate = pipe(
        (_: ReturnType<typeof rec>) => Effect.void,
        HandlerFaults.failAt((r) => r.partition === 1)
      )
      expect((yield* Effect.either(byPredicate(rec(0, 1))))._tag).toBe("Left")
      const [first] = yield* run(always, [2])
      if (first!._tag === "Left") {
        expect(first!.left).toBeInstanceOf(HandlerFaults.InjectedFault)
        expect(first!.left.offset).toBe(2)
        expect(first!.left.attempt).toBe(3)
      }
    })
  )

  it.effect("failTimes fails each record n times, then lets it through", () =>
    Effect.gen(function* () {
      const calls: Array<number> = []
      const handler = pipe(
        (r: ReturnType<typeof rec>) => Effect.sync(() => calls.push(r.offset)),
        HandlerFaults.failTimes(2)
      )
      const results = yield* run(handler, [7, 7, 7, 8, 8, 8])
      expect(results.map((r) => r._tag)).toEqual(["Left", "Left", "Right", "Left", "Left", "Right"])
      expect(calls).toEqual([7, 8])
    })
  )

  it.effect("failWithProbability follows its seed", () =>
    Effect.gen(function* () {
      const offsets = Array.from({ length: 500 }, (_, i) => i)
      const pattern = (seed: number) =>
        Effect.map(
          run(
            HandlerFaults.failWithProbability((_: ReturnType<typeof rec>) => Effect.void, 0.2, seed),
            offsets
          ),
          (rs) => rs.map((r) => r._tag === "Left")
        )
      const a = yield* pattern(11)
      expect(yield* pattern(11)).toEqual(a)
      expect(yield* pattern(12)).not.toEqual(a)
      const failures = a.filter(Boolean).length
      expect(failures).toBeGreaterThan(60)
      expect(failures).toBeLessThan(140)
    })
  )

  it.effect("slow sleeps on the Clock; hang never completes until interrupted; dieAt is a defect", () =>
    Effect.gen(function* () {
      const slow = HandlerFaults.slow((_: ReturnType<typeof rec>) => Effect.void, "2 seconds")
      const fiber = yield* Effect.fork(slow(rec(0)))
      yield* TestClock.adjust("1999 millis")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      expect(Exit.isSuccess(yield* Fiber.await(fiber))).toBe(true)

      const finalized: Array<number> = []
      const hang = HandlerFaults.hang(
        (r: ReturnType<typeof rec>) => Effect.sync(() => finalized.push(-r.offset)),
        [5],
        { times: 1 }
      )
      const hanging = yield* Effect.fork(
        Effect.ensuring(
          hang(rec(5)),
          Effect.sync(() => finalized.push(5))
        )
      )
      yield* TestClock.adjust("1 hour")
      expect(hanging.unsafePoll()).toBeNull()
      yield* Fiber.interrupt(hanging)
      expect(finalized).toEqual([5])
      yield* hang(rec(5)) // the second attempt goes through
      expect(finalized).toEqual([5, -5])

      const dying = HandlerFaults.dieAt((_: ReturnType<typeof rec>) => Effect.void, [3])
      const exit = yield* Effect.exit(dying(rec(3)))
      expect(Exit.isFailure(exit) && exit.cause._tag === "Die").toBe(true)
    })
  )
})

describe("memory: HandlerProbe", () => {
  it.effect("records starts, ends and outcomes; counts duplicates; finds order violations", () =>
    Effect.gen(function* () {
      const probe = yield* HandlerProbe.make()
      const handler = probe.wrap((r: ReturnType<typeof rec>) =>
        r.offset === 3 ? Effect.fail("boom" as const) : Effect.void
      )
      yield* Effect.either(handler(rec(1)))
      yield* Effect.either(handler(rec(1)))
      yield* Effect.either(handler(rec(3)))
      expect(yield* probe.duplicates).toEqual([{ topic: "t", partition: 0, offset: 1, count: 2 }])
      expect((yield* probe.entries).map((e) => e.outcome)).toEqual(["success", "success", "failure"])
      expect(yield* probe.succeeded).toBe(1)
      expect(yield* probe.orderViolations()).toEqual([])
      // Offset 11 starts while 10 still runs: a violation of partition order.
      const slow = probe.wrap((r: ReturnType<typeof rec>) => (r.offset === 10 ? Effect.sleep("1 second") : Effect.void))
      const ten = yield* Effect.fork(slow(rec(10)))
      yield* probe.awaitEntries((es) => es.some((e) => e.offset === 10))
      yield* slow(rec(11))
      expect(yield* probe.maxInFlight).toBe(2)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(ten)
      const violations = yield* probe.orderViolations()
      expect(violations.map((v) => [v.earlier.offset, v.later.offset])).toEqual([[10, 11]])
      const interrupted = yield* Effect.fork(probe.wrap((_: ReturnType<typeof rec>) => Effect.never)(rec(20)))
      yield* probe.awaitEntries((es) => es.some((e) => e.offset === 20))
      yield* Fiber.interrupt(interrupted)
      expect((yield* probe.entries).at(-1)!.outcome).toBe("interrupted")
    })
  )

  it.effect("with the engine on the simulated cluster: names the member, sees every record once", () =>
    Effect.gen(function* () {
      const kafka = yield* MemoryKafka.MemoryKafka
      yield* kafka.createTopic("orders", 4)
      yield* kafka.produce(
        Array.from({ length: 400 }, (_, i) => ({
          topic: "orders",
          key: new TextEncoder().encode(`k${i}`),
          value: null
        }))
      )
      const probe = yield* HandlerProbe.make({ groupId: "billing" })
      const settings = yield* ConsumerSettings.make({ groupId: "billing" })
      const consumer = yield* Consumer.make(settings)
      const handler = probe.wrap((_: ConsumerRecord) => Effect.void)
      const fiber = yield* Effect.fork(consumer.run({ topics: ["orders"], handler }))
      yield* probe.awaitSucceeded(400)
      yield* Fiber.interrupt(fiber)
      expect(yield* probe.duplicates).toEqual([])
      expect(yield* probe.orderViolations()).toEqual([])
      const entries = yield* probe.entries
      expect(entries.every((e) => e.memberId?.startsWith(settings.clientId) === true)).toBe(true)
      // Graceful shutdown committed every partition's end.
      const committed = yield* kafka.committed("billing", "orders")
      const ends = yield* kafka.endOffsets("orders")
      for (const [p, end] of ends) expect(committed.get(p)?.offset).toBe(end)
    }).pipe(Effect.provide(MemoryKafka.layer()))
  )
})
