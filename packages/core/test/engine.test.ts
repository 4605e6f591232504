import { describe, expect, it } from "@effect/vitest"
import { handlerError } from "@sluice/core/ConsumerError"
import type { ConsumerEvent } from "@sluice/core/ConsumerEvent"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import * as FakeDriver from "./fakeDriver.js"

const tp0 = { topic: "t", partition: 0 }
const tp1 = { topic: "t", partition: 1 }
const { assignment, waitFor } = FakeDriver

const setup = (input: Partial<ConsumerSettings.Input> = {}) =>
  Effect.gen(function* () {
    const { consumer, fake } = yield* FakeDriver.consumer(input)
    const events = yield* consumer.subscribeEvents
    return { fake, consumer, events }
  })

const drainEvents = (events: Queue.Dequeue<ConsumerEvent>) => Queue.takeAll(events).pipe(Effect.map((c) => [...c]))

describe("engine (scripted driver)", () => {
  it.scopedLive("G1 commits only the frontier of finished records, in offset order (G5)", () =>
    Effect.gen(function* () {
      const { consumer, fake } = yield* setup()
      const seen: Array<number> = []
      const fiber = yield* Effect.fork(
        consumer.run({ topics: ["t"], handler: (r) => Effect.sync(() => seen.push(r.offset)) })
      )
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([assignment(tp0)])
      yield* listener.onRecords(tp0, FakeDriver.records(tp0, 0, 100))
      yield* waitFor(() => fake.commits.some((c) => c.offset === 100), "commit of 100")
      expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i))
      const offsets = fake.commits.map((c) => c.offset)
      expect([...offsets].sort((a, b) => a - b)).toEqual(offsets) // G2 monotonic
      yield* Fiber.interrupt(fiber)
      expect(fake.left).toBe(true)
    })
  )

  it.scopedLive("G1 a failing handler stops the consumer; nothing at or after the failed offset is committed", () =>
    Effect.gen(function* () {
      const { consumer, fake } = yield* setup()
      const fiber = yield* Effect.fork(
        consumer.run({
          topics: ["t"],
          handler: (r) => (r.offset === 42 ? Effect.fail("boom" as const) : Effect.void)
        })
      )
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([assignment(tp0)])
      yield* listener.onRecords(tp0, FakeDriver.records(tp0, 0, 100))
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        expect(error).toMatchObject({ _tag: "HandlerError", offset: 42, partition: 0, cause: "boom" })
      }
      expect(Math.max(...fake.commits.map((c) => c.offset))).toBe(42)
      expect(fake.left).toBe(true)
    })
  )

  it.scopedLive("G4 revocation (interrupt) interrupts in-flight work, runs its finalizer, drops the buffer", () =>
    Effect.gen(function* () {
      const { consumer, fake, events } = yield* setup({ revocation: ConsumerSettings.interrupt })
      const released = yield* Ref.make<Array<number>>([])
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        consumer.run({
          topics: ["t"],
          handler: (r) =>
            r.offset < 5
              ? Effect.void
              : Effect.scoped(
                  Effect.acquireRelease(Deferred.succeed(started, undefined), () =>
                    Ref.update(released, (xs) => [...xs, r.offset])
                  ).pipe(Effect.zipRight(Effect.never))
                )
        })
      )
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([assignment(tp0)])
      yield* listener.onRecords(tp0, FakeDriver.records(tp0, 0, 10))
      yield* Deferred.await(started)
      yield* listener.onRevoked([tp0])
      expect(yield* Ref.get(released)).toEqual([5])
      expect(fake.commits.at(-1)?.offset).toBe(5)
      const revoked = (yield* drainEvents(events)).find((e) => e._tag === "Revoked")
      expect(revoked).toMatchObject({ dropped: 4, interrupted: true, committed: 5 })
      // G2: nothing is committed for the partition after its revocation completed
      const before = fake.commits.length
      yield* listener.onRecords(tp0, FakeDriver.records(tp0, 10, 10))
      yield* Effect.sleep("60 millis")
      expect(fake.commits.length).toBe(before)
      yield* Fiber.interrupt(fiber)
    })
  )

  it.scopedLive("G7 revocation (drain) lets in-flight work finish and commits past it", () =>
    Effect.gen(function* () {
      const { consumer, fake } = yield* setup({ revocation: ConsumerSettings.drain("5 seconds") })
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        consumer.run({
          topics: ["t"],
          handler: (r) =>
            r.offset === 3
              ? Deferred.succeed(started, undefined).pipe(Effect.zipRight(Effect.sleep("50 millis")))
              : Effect.void
        })
      )
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([assignment(tp0)])
      yield* listener.onRecords(tp0, FakeDriver.records(tp0, 0, 10))
      yield* Deferred.await(started)
      yield* listener.onRevoked([tp0])
      expect(fake.commits.at(-1)?.offset).toBe(4)
      yield* Fiber.interrupt(fiber)
    })
  )

  it.scopedLive("G2 a lost partition is interrupted and never committed", () =>
    Effect.gen(function* () {
      const { consumer, fake } = yield* setup({ commitInterval: "10 seconds" })
      const fiber = yield* Effect.fork(consumer.run({ topics: ["t"], handler: () => Effect.void }))
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([assignment(tp0), assignment(tp1)])
      yield* listener.onRecords(tp0, FakeDriver.records(tp0, 0, 10))
      yield* listener.onRecords(tp1, FakeDriver.records(tp1, 0, 10))
      yield* Effect.sleep("20 millis")
      yield* listener.onLost([tp0])
      yield* Fiber.interrupt(fiber)
      expect(fake.commits.filter((c) => c.partition === 0)).toEqual([])
      expect(fake.commits.filter((c) => c.partition === 1).at(-1)?.offset).toBe(10)
    })
  )

  it.scopedLive("G6 a full buffer pauses the partition and draining resumes it", () =>
    Effect.gen(function* () {
      const { consumer, fake } = yield* setup({ buffer: { perPartition: 10, total: 100 } })
      const gate = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(consumer.run({ topics: ["t"], handler: () => Deferred.await(gate) }))
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([assignment(tp0)])
      yield* listener.onRecords(tp0, FakeDriver.records(tp0, 0, 12))
      expect(fake.controls).toEqual([{ op: "pause", tp: tp0 }])
      yield* Deferred.succeed(gate, undefined)
      yield* waitFor(() => fake.controls.length === 2, "resume")
      expect(fake.controls[1]).toEqual({ op: "resume", tp: tp0 })
      yield* Fiber.interrupt(fiber)
    })
  )

  it.scopedLive("retriable commit failures are retried with the schedule", () =>
    Effect.gen(function* () {
      const { consumer, fake, events } = yield* setup({ commitRetryBase: "1 millis" })
      fake.failCommits = { n: 3, error: FakeDriver.retriable }
      const fiber = yield* Effect.fork(consumer.run({ topics: ["t"], handler: () => Effect.void }))
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([assignment(tp0)])
      yield* listener.onRecords(tp0, FakeDriver.records(tp0, 0, 5))
      yield* waitFor(() => fake.commits.length > 0, "a commit")
      expect(fake.commits[0]?.offset).toBe(5)
      expect((yield* drainEvents(events)).some((e) => e._tag === "CommitFailed")).toBe(false)
      yield* Fiber.interrupt(fiber)
    })
  )

  it.scoped(
    "commits by count as soon as commitEvery records finished, and by time commitInterval after the last commit ended",
    () =>
      Effect.gen(function* () {
        // The test clock: time moves only when told, so each commit's cause is known.
        const { consumer, fake } = yield* setup({ commitInterval: "10 seconds", commitEvery: 5 })
        const settle = Effect.repeatN(Effect.yieldNow(), 200)
        const offsets = () => fake.commits.map((c) => c.offset)
        const fiber = yield* Effect.fork(consumer.run({ topics: ["t"], handler: () => Effect.void }))
        const listener = yield* Deferred.await(fake.listener)
        yield* listener.onAssigned([assignment(tp0)])
        yield* listener.onRecords(tp0, FakeDriver.records(tp0, 0, 3))
        yield* settle
        expect(offsets()).toEqual([])
        yield* TestClock.adjust("9 seconds")
        yield* settle
        expect(offsets()).toEqual([])
        // t = 10 s: the interval is up.
        yield* TestClock.adjust("1 second")
        yield* settle
        expect(offsets()).toEqual([3])
        // t = 15 s: five more records finish, which commits them at once.
        yield* TestClock.adjust("5 seconds")
        yield* listener.onRecords(tp0, FakeDriver.records(tp0, 3, 5))
        yield* settle
        expect(offsets()).toEqual([3, 8])
        // The next time-triggered commit is due 10 s after that one ended (t = 25 s), not at 20 s.
        yield* listener.onRecords(tp0, FakeDriver.records(tp0, 8, 1))
        yield* TestClock.adjust("9 seconds")
        yield* settle
        expect(offsets()).toEqual([3, 8])
        yield* TestClock.adjust("1 second")
        yield* settle
        expect(offsets()).toEqual([3, 8, 9])
        yield* Fiber.interrupt(fiber)
      })
  )

  it.scopedLive(
    "G2 a loss does not wait for the retries of a commit that names the lost partition; that commit is not retried",
    () =>
      Effect.gen(function* () {
        // Retries 2, 4, 8, 16 and 32 s apart: a loss that waited for them would take a minute.
        const { consumer, fake } = yield* setup({ commitRetryBase: "2 seconds", commitRetries: 5 })
        fake.failCommits = { n: 1000, error: FakeDriver.retriable }
        const fiber = yield* Effect.fork(consumer.run({ topics: ["t"], handler: () => Effect.void }))
        const listener = yield* Deferred.await(fake.listener)
        yield* listener.onAssigned([assignment(tp0)])
        yield* listener.onRecords(tp0, FakeDriver.records(tp0, 0, 5))
        yield* waitFor(() => fake.failCommits!.n < 1000, "a first commit attempt")
        const lost = yield* Effect.timeout(listener.onLost([tp0]), "10 seconds")
        expect(lost).toBeUndefined()
        // The attempt after the current back-off failed too, and no later one was made.
        const attempts = 1000 - fake.failCommits!.n
        expect(attempts).toBeLessThanOrEqual(2)
        yield* Effect.sleep("100 millis")
        expect(1000 - fake.failCommits!.n).toBe(attempts)
        expect(fake.commits).toEqual([])
        yield* Fiber.interrupt(fiber)
      })
  )

  it.scopedLive("G8 interruption drains in-flight work and commits before leaving", () =>
    Effect.gen(function* () {
      const { consumer, fake } = yield* setup({ commitInterval: "10 seconds" })
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        consumer.run({
          topics: ["t"],
          handler: (r) =>
            r.offset === 7
              ? Deferred.succeed(started, undefined).pipe(Effect.zipRight(Effect.sleep("30 millis")))
              : Effect.void
        })
      )
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([assignment(tp0)])
      yield* listener.onRecords(tp0, FakeDriver.records(tp0, 0, 20))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      // offset 7 finished during the drain; 8.. were dropped unstarted
      expect(fake.commits.at(-1)?.offset).toBe(8)
      expect(fake.left).toBe(true)
    })
  )
  it.scopedLive("G8 a hanging handler cannot hold the shutdown past its deadline; its finalizer runs", () =>
    Effect.gen(function* () {
      const { consumer, fake } = yield* setup({ shutdownTimeout: "300 millis" })
      const started = yield* Deferred.make<void>()
      let released = false
      const fiber = yield* Effect.fork(
        consumer.run({
          topics: ["t"],
          handler: (r) =>
            r.offset === 2
              ? Effect.acquireRelease(Deferred.succeed(started, undefined), () =>
                  Effect.sync(() => {
                    released = true
                  })
                ).pipe(Effect.zipRight(Effect.never), Effect.scoped)
              : Effect.void
        })
      )
      const listener = yield* Deferred.await(fake.listener)
      yield* listener.onAssigned([assignment(tp0)])
      yield* listener.onRecords(tp0, FakeDriver.records(tp0, 0, 5))
      yield* Deferred.await(started)
      const before = Date.now()
      yield* Fiber.interrupt(fiber)
      expect(Date.now() - before).toBeLessThan(2_000)
      expect(released).toBe(true)
      expect(fake.commits.at(-1)?.offset).toBe(2)
      expect(fake.left).toBe(true)
    })
  )
})

describe("settings", () => {
  it.effect("an invalid setting fails with a SettingsError naming it", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(ConsumerSettings.make({ groupId: "g", buffer: { perPartition: 0 } }))
      expect(error).toMatchObject({ _tag: "SettingsError", setting: "buffer.perPartition" })
      const noGroup = yield* Effect.flip(ConsumerSettings.make({ groupId: " " }))
      expect(noGroup.setting).toBe("groupId")
      const badDuration = yield* Effect.flip(ConsumerSettings.make({ groupId: "g", commitInterval: -5 }))
      expect(badDuration.setting).toBe("commitInterval")
      const heartbeat = yield* Effect.flip(
        ConsumerSettings.make({ groupId: "g", heartbeatInterval: "10 seconds", sessionTimeout: "5 seconds" })
      )
      expect(heartbeat.setting).toBe("heartbeatInterval")
      const drain = yield* Effect.flip(
        ConsumerSettings.make({
          groupId: "g",
          revocation: ConsumerSettings.drain("2 minutes"),
          rebalanceTimeout: "1 minute"
        })
      )
      expect(drain.setting).toBe("revocation.drainTimeout")
      const window = yield* Effect.flip(ConsumerSettings.make({ groupId: "g", maxWindow: 1_000_000 }))
      expect(window.setting).toBe("maxWindow")
      expect(window.message).toContain("4,096 bytes")
    })
  )
})

describe("error messages", () => {
  it("a HandlerError names the record and the error, with its tag", () => {
    class Declined extends Data.TaggedError("Declined")<{ readonly message: string }> {}
    class Timeout extends Data.TaggedError("Timeout")<{}> {}
    const at = { topic: "orders", partition: 2, offset: 7 }
    expect(handlerError(at, new Declined({ message: "card declined" })).message).toBe(
      "handler failed at orders-2@7: Declined: card declined"
    )
    expect(handlerError(at, new Timeout()).message).toBe("handler failed at orders-2@7: Timeout")
    expect(handlerError(at, new Error("boom")).message).toBe("handler failed at orders-2@7: boom")
    expect(handlerError(at, "oops").message).toBe("handler failed at orders-2@7: oops")
  })
})
