/**
 * O4 on the simulated cluster: `Consumer.health()` follows a member through joining, stable,
 * rebalancing and stopped; readiness and liveness follow their rules (a long rebalance, a fetch
 * outage); commit failures are counted until a commit succeeds.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Consumer from "@sluice/core/Consumer"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import type * as Health from "@sluice/core/Health"
import { ProducerDriver } from "@sluice/core/ProducerDriver"
import * as TP from "@sluice/core/TopicPartition"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as MemoryKafka from "../src/MemoryKafka.js"
import { healthWhen } from "../src/TestHelpers.js"

const encoder = new TextEncoder()

const produce = (topic: string, partition: number, count: number) =>
  Effect.flatMap(ProducerDriver, (producer) =>
    producer.send(
      Array.from({ length: count }, (_, i) => ({
        topic,
        partition,
        key: encoder.encode(`k${i}`),
        value: encoder.encode(`v${i}`),
        headers: []
      }))
    )
  )

const member = (health: Health.Health): Health.MemberHealth => {
  expect(health.members).toHaveLength(1)
  return health.members[0]!
}

const partitions = (topic: string, ps: ReadonlyArray<number>) => ps.map((p) => TP.make(topic, p))

/** The simulated cluster, a new topic of `count` partitions and a consumer with these settings. */
const consumerOn = (topic: string, count: number, settings: ConsumerSettings.Input) =>
  Effect.gen(function* () {
    const kafka = yield* MemoryKafka.MemoryKafka
    yield* kafka.createTopic(topic, count)
    const consumer = yield* Consumer.make(yield* ConsumerSettings.make(settings))
    return { kafka, consumer }
  })

describe("memory: health", () => {
  it.live("O4 health follows a member through joining, stable, rebalancing and stopped; ready only when stable", () =>
    Effect.gen(function* () {
      const kafka = yield* MemoryKafka.MemoryKafka
      yield* kafka.createTopic("health", 4)
      for (const p of [0, 1, 2, 3]) yield* produce("health", p, 5)
      const settings = yield* ConsumerSettings.make({
        groupId: "probes",
        commitInterval: "20 millis",
        revocation: ConsumerSettings.drain("5 seconds")
      })
      const a = yield* Consumer.make(settings)
      const b = yield* Consumer.make(settings)

      const before = yield* a.health()
      expect(before).toEqual({
        ready: false,
        live: true,
        problems: ["not ready: no consumer run started"],
        members: []
      })

      const hold = yield* Effect.makeLatch(true)
      const aFiber = yield* Effect.forkDaemon(
        a.run({ topics: ["health"], handler: (r) => (r.offset >= 5 ? hold.await : Effect.void) })
      )
      const stable = member(
        yield* healthWhen(a, "a stable with 4 partitions and a commit", (h) => {
          const m = h.members[0]
          return m?.state === "stable" && m.assigned.length === 4 && m.sinceCommitMillis !== undefined
        })
      )
      expect(stable.ready).toBe(true)
      expect(stable.live).toBe(true)
      expect(stable.problems).toEqual([])
      expect(stable.groupId).toBe("probes")
      expect(stable.topics).toEqual(["health"])
      expect(stable.memberId).toMatch(/.+/)
      expect(stable.assigned).toEqual(partitions("health", [0, 1, 2, 3]))
      expect(stable.stalled).toEqual([])
      // The simulated client waits for records in a long poll: its fetch is current.
      expect(stable.sinceFetchMillis).toBeLessThan(1000)
      expect(stable.sinceHeartbeatMillis).toBeUndefined()
      expect(stable.commitFailures).toBe(0)

      // A record of partition 0 holds its handler; a second member joins: a's revocation
      // drains, so a stays `rebalancing` until the record is let go.
      yield* hold.close
      yield* produce("health", 0, 6)
      const bFiber = yield* Effect.forkDaemon(b.run({ topics: ["health"], handler: () => Effect.void }))
      const rebalancing = yield* healthWhen(a, "a rebalancing", (h) => h.members[0]?.state === "rebalancing")
      expect(rebalancing.ready).toBe(false)
      expect(rebalancing.live).toBe(true)
      expect(rebalancing.problems[0]).toMatch(/^probes: not ready: rebalancing for \d+\.\d s$/)
      // Past `rebalanceWithin` the member is not live either.
      yield* Effect.sleep("150 millis")
      const stuck = yield* a.health({ rebalanceWithin: "100 millis" })
      expect(stuck.live).toBe(false)
      expect(stuck.problems).toContainEqual(
        expect.stringMatching(/^probes: not live: rebalancing for \d+\.\d s \(limit 0\.1 s\)$/)
      )

      yield* hold.open
      const split = (h: Health.Health) => h.members[0]?.state === "stable" && h.members[0].assigned.length === 2
      const aSplit = member(yield* healthWhen(a, "a stable with 2 partitions", split))
      const bSplit = member(yield* healthWhen(b, "b stable with 2 partitions", split))
      expect([...aSplit.assigned, ...bSplit.assigned].sort(TP.order)).toEqual(partitions("health", [0, 1, 2, 3]))
      expect(aSplit.memberId).not.toBe(bSplit.memberId)
      expect((yield* a.health()).ready).toBe(true)

      // b shuts down: a takes everything back; b reports itself stopped.
      yield* Fiber.interrupt(bFiber)
      const bStopped = yield* b.health()
      expect(bStopped.ready).toBe(false)
      expect(bStopped.live).toBe(false)
      expect(member(bStopped)).toMatchObject({ state: "stopped", assigned: [], memberId: undefined })
      expect(bStopped.problems[0]).toMatch(/^probes: not ready: stopped for/)
      yield* healthWhen(a, "a stable with 4 partitions again", (h) => h.members[0]?.assigned.length === 4 && h.ready)

      yield* Fiber.interrupt(aFiber)
      const aStopped = yield* a.health()
      expect(aStopped).toMatchObject({ ready: false, live: false })
      expect(member(aStopped).state).toBe("stopped")
    }).pipe(Effect.provide(MemoryKafka.layer({ seed: 5 })))
  )

  it.live(
    "O4 a fetch outage longer than fetchWithin makes the member not live; it is live again once fetches succeed",
    () =>
      Effect.gen(function* () {
        const { kafka, consumer } = yield* consumerOn("outage", 2, { groupId: "outage-probes" })
        const fiber = yield* Effect.forkDaemon(consumer.run({ topics: ["outage"], handler: () => Effect.void }))
        const rules = { fetchWithin: "300 millis" } as const
        yield* healthWhen(consumer, "stable", (h) => h.ready && h.live, { rules })

        yield* kafka.faults.failFetches({ duration: "1500 millis", groupId: "outage-probes" })
        yield* produce("outage", 1, 1)
        const down = yield* healthWhen(consumer, "not live", (h) => !h.live, { rules })
        expect(down.ready).toBe(true)
        expect(down.problems).toEqual([
          expect.stringMatching(/^outage-probes: not live: no fetch for \d+\.\d s \(limit 0\.3 s\)$/)
        ])
        expect(member(down).sinceFetchMillis).toBeGreaterThan(300)

        const up = yield* healthWhen(consumer, "live again", (h) => h.live, { rules })
        expect(member(up).sinceFetchMillis).toBeLessThan(300)
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(MemoryKafka.layer({ seed: 6 })))
  )

  it.live("O4 commit failures are counted until a commit succeeds", () =>
    Effect.gen(function* () {
      const { kafka, consumer } = yield* consumerOn("failing", 1, {
        groupId: "commit-probes",
        commitInterval: "20 millis",
        commitRetryBase: "150 millis"
      })
      const fiber = yield* Effect.forkDaemon(consumer.run({ topics: ["failing"], handler: () => Effect.void }))
      yield* healthWhen(consumer, "stable", (h) => h.ready)
      yield* kafka.faults.failCommits({ times: 3, error: "retriable", groupId: "commit-probes" })
      yield* produce("failing", 0, 3)
      const failing = yield* healthWhen(consumer, "two failed commits", (h) => member(h).commitFailures >= 2)
      expect(member(failing).commitFailures).toBeLessThanOrEqual(3)
      const recovered = yield* healthWhen(
        consumer,
        "a commit after the failures",
        (h) => member(h).commitFailures === 0 && (member(h).sinceCommitMillis ?? Infinity) < 1000
      )
      expect(recovered.live).toBe(true)
      const committed = yield* kafka.committed("commit-probes", "failing")
      expect(committed.get(0)?.offset).toBe(3)
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(MemoryKafka.layer({ seed: 7 })))
  )

  it.live("G2 (simulated) a fenced member's loss does not wait for the retries of a commit the coordinator fails", () =>
    Effect.gen(function* () {
      // Retries 2, 4, 8, 16 and 32 s apart: a loss that waited for them would take a minute.
      const { kafka, consumer } = yield* consumerOn("fenced", 1, {
        groupId: "fenced-probes",
        commitInterval: "20 millis",
        commitRetryBase: "2 seconds",
        commitRetries: 5
      })
      const lost = yield* Deferred.make<void>()
      yield* Effect.forkDaemon(
        Stream.runForEach(consumer.events, (event) =>
          event._tag === "Lost" ? Deferred.succeed(lost, undefined) : Effect.void
        )
      )
      const fiber = yield* Effect.forkDaemon(consumer.run({ topics: ["fenced"], handler: () => Effect.void }))
      const stable = yield* healthWhen(consumer, "stable", (h) => h.ready)
      // The first attempt and its first retry fail; a third failure meets the rejoined member.
      yield* kafka.faults.failCommits({ times: 3, error: "retriable", groupId: "fenced-probes" })
      yield* produce("fenced", 0, 3)
      // The first commit failed and waits out its first back-off.
      yield* Effect.sleep("500 millis")
      yield* kafka.faults.fence(member(stable).memberId!)
      yield* Effect.timeout(Deferred.await(lost), "10 seconds")
      const committed = yield* kafka.committed("fenced-probes", "fenced")
      expect(committed.get(0)).toBeUndefined()
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(MemoryKafka.layer({ seed: 8 })))
  )

  it.live(
    "G7 (simulated) a graceful shutdown's commit that the group refuses with an illegal generation (a rebalance under way) is retried: everything handled is committed",
    () =>
      Effect.gen(function* () {
        const { kafka, consumer } = yield* consumerOn("closing", 4, {
          groupId: "closing-probes",
          // Only the shutdown commits: no periodic commit may cover the drained records first.
          commitInterval: "1 hour",
          shutdownTimeout: "20 seconds"
        })
        for (const p of [0, 1, 2, 3]) yield* produce("closing", p, 5)
        const started = yield* Deferred.make<void>()
        const hold = yield* Effect.makeLatch(false)
        const fiber = yield* Effect.forkDaemon(
          consumer.run({
            topics: ["closing"],
            // Partition 0's last record holds the drain until the refusals are in place.
            handler: (r) =>
              r.partition === 0 && r.offset === 4
                ? Effect.zipRight(Deferred.succeed(started, undefined), hold.await)
                : Effect.void
          })
        )
        yield* Deferred.await(started)
        const stopping = yield* Effect.fork(Fiber.interrupt(fiber))
        // What a commit meets between a rebalance's start and the member's rejoin: ILLEGAL_GENERATION
        // (CI, 2026-12-02: librdkafka, cooperative, a member joining while another shut down
        // committed 172 of 200 records).
        yield* kafka.faults.failCommits({ times: 2, error: "fenced", groupId: "closing-probes" })
        yield* hold.open
        yield* Fiber.join(stopping)
        const committed = yield* kafka.committed("closing-probes", "closing")
        expect([0, 1, 2, 3].map((p) => committed.get(p)?.offset)).toEqual([5, 5, 5, 5])
      }).pipe(Effect.provide(MemoryKafka.layer({ seed: 9 })))
  )
})
