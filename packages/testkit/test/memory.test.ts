import { describe, expect, it } from "@effect/vitest"
import { ProducerDriver } from "@sluice/core/ProducerDriver"
import * as TP from "@sluice/core/TopicPartition"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import { assign } from "../src/internal/memory/assignor.js"
import { murmur2 } from "../src/internal/memory/murmur2.js"
import * as MemoryKafka from "../src/MemoryKafka.js"
import { TestCluster } from "../src/TestCluster.js"
import {
  clusterWithTopic,
  commitAfter,
  eventually,
  everyPartitionOnce,
  type LogEntry,
  member,
  numbered,
  provide,
  type Recorder,
  settle
} from "./support.js"

const encoder = new TextEncoder()

// -----------------------------------------------------------------------------------------
// Records
// -----------------------------------------------------------------------------------------

describe("memory: records", () => {
  it("murmur2 matches Kafka's test vectors", () => {
    const vectors: Array<[string, number]> = [
      ["21", -973932308],
      ["foobar", -790332482],
      ["a-little-bit-long-string", -985981536],
      ["a-little-bit-longer-string", -1486304829],
      ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
      ["abc", 479470107]
    ]
    for (const [input, expected] of vectors) expect(murmur2(encoder.encode(input))).toBe(expected)
  })

  it.effect("produce assigns offsets in order per partition, keys by murmur2, timestamps from the Clock", () =>
    provide(
      Effect.gen(function* () {
        const kafka = yield* MemoryKafka.MemoryKafka
        const producer = yield* ProducerDriver
        yield* kafka.createTopic("orders", 3)
        yield* TestClock.setTime(1_700_000_000_000)
        const sent = yield* producer.send(numbered("orders", 300))
        expect(sent).toHaveLength(300)
        for (const p of [0, 1, 2]) {
          const records = yield* kafka.records("orders", p)
          expect(records.map((r) => r.offset)).toEqual(Array.from({ length: records.length }, (_, i) => i))
          for (const r of records) {
            expect(r.timestamp).toBe(1_700_000_000_000)
            expect((murmur2(r.key!) & 0x7fffffff) % 3).toBe(p)
          }
        }
        const ends = yield* kafka.endOffsets("orders")
        expect([...ends.values()].reduce((a, b) => a + b, 0)).toBe(300)
        // An explicit partition wins; an out-of-range one fails the whole send.
        const [explicit] = yield* producer.send([{ topic: "orders", partition: 2, key: null, value: null }])
        expect(explicit!.partition).toBe(2)
        const error = yield* Effect.flip(
          producer.send([
            { topic: "orders", key: null, value: null },
            { topic: "orders", partition: 9, key: null, value: null }
          ])
        )
        expect(error.reason).toBe("protocol")
        expect((yield* kafka.endOffsets("orders")).get(2)).toBe(ends.get(2)! + 1)
      })
    )
  )

  it.effect("a member receives every partition's records in offset order, in batches of at most maxBatchSize", () =>
    provide(
      Effect.gen(function* () {
        const kafka = yield* clusterWithTopic("t", 2)
        yield* kafka.produce(numbered("t", 2_000, 2))
        const log: Array<LogEntry> = []
        const a = yield* member("a", log)
        yield* eventually(() => a.count === 2_000, "all records")
        expect(a.received.get("t|0")).toEqual(Array.from({ length: 1_000 }, (_, i) => i))
        expect(a.received.get("t|1")).toEqual(Array.from({ length: 1_000 }, (_, i) => i))
        expect(Math.max(...a.batches)).toBeLessThanOrEqual(300)
        expect(a.strays).toEqual([])
        // More records after the first delivery wake the idle poll loop.
        yield* kafka.produce(numbered("t", 10, 2))
        yield* eventually(() => a.count === 2_010, "late records")
      }),
      { maxBatchSize: 300 }
    )
  )

  it.effect("pollInterval paces the poll loop on the Clock", () =>
    provide(
      Effect.gen(function* () {
        const kafka = yield* clusterWithTopic("t", 1)
        yield* kafka.produce(numbered("t", 30, 1))
        const a = yield* member("a")
        yield* eventually(() => a.count === 10, "the first batch")
        yield* settle
        expect(a.count).toBe(10)
        yield* TestClock.adjust("10 millis")
        yield* eventually(() => a.count === 20, "the second batch")
        yield* TestClock.adjust("10 millis")
        yield* eventually(() => a.count === 30, "the third batch")
      }),
      { maxBatchSize: 10, pollInterval: "10 millis" }
    )
  )

  it.effect("maxBytesPerPartition bounds a batch (at least one record)", () =>
    provide(
      Effect.gen(function* () {
        const kafka = yield* clusterWithTopic("big", 1)
        yield* kafka.produce(
          Array.from({ length: 10 }, () => ({ topic: "big", key: null, value: new Uint8Array(1_000) }))
        )
        const a = yield* member("a", [], { subscription: { topics: ["big"], maxBytesPerPartition: 2_500 } })
        yield* eventually(() => a.count === 10, "all records")
        expect(a.batches.every((n) => n <= 2)).toBe(true)
        const b = yield* member("b", [], { subscription: { groupId: "g2", topics: ["big"], maxBytesPerPartition: 10 } })
        yield* eventually(() => b.count === 10, "all records")
        expect(b.batches.every((n) => n === 1)).toBe(true)
      })
    )
  )

  it.effect("startFrom latest skips what is there; a committed offset wins over startFrom", () =>
    provide(
      Effect.gen(function* () {
        const kafka = yield* MemoryKafka.MemoryKafka
        yield* kafka.produce(numbered("t", 5, 1))
        const a = yield* member("a", [], { subscription: { startFrom: "latest" } })
        yield* kafka.awaitStable("g")
        yield* kafka.produce(numbered("t", 3, 1))
        yield* eventually(() => a.count === 3, "new records")
        expect(a.received.get("t|0")).toEqual([5, 6, 7])
        yield* a.session!.commit([{ topic: "t", partition: 0, offset: 6, metadata: "m" }])
        yield* a.leave
        const b = yield* member("b", [], { subscription: { startFrom: "latest" } })
        yield* eventually(() => b.count === 2, "from the committed offset")
        expect(b.assignments[0]!.committed).toEqual({ offset: 6, metadata: "m" })
        expect(b.received.get("t|0")).toEqual([6, 7])
      })
    )
  )
})

// -----------------------------------------------------------------------------------------
// Groups and rebalances
// -----------------------------------------------------------------------------------------

describe("memory: groups", () => {
  it.effect("joins and leaves give each partition to exactly one member", () =>
    provide(
      Effect.gen(function* () {
        const kafka = yield* clusterWithTopic("t", 6)
        const log: Array<LogEntry> = []
        const members: Array<Recorder> = []
        for (const name of ["a", "b", "c"]) {
          members.push(yield* member(name, log))
          const snapshot = yield* kafka.awaitStable("g")
          expect(snapshot.members).toHaveLength(members.length)
          everyPartitionOnce(snapshot, "t", 6)
        }
        // The listeners' view agrees with the coordinator's.
        const union = members.flatMap((m) => [...m.owned])
        expect(union.sort()).toEqual(Array.from({ length: 6 }, (_, i) => `t|${i}`).sort())
        yield* members[1]!.leave
        const after = yield* kafka.awaitStable("g")
        expect(after.members).toHaveLength(2)
        everyPartitionOnce(after, "t", 6)
        expect(after.members.map((m) => m.assigned.length)).toEqual([3, 3])
        // Records produced now reach exactly the owners.
        yield* kafka.produce(numbered("t", 600, 6))
        yield* eventually(() => members[0]!.count + members[2]!.count === 600, "all records")
        expect(members.flatMap((m) => m.strays)).toEqual([])
        const history = yield* kafka.ownershipHistory("g")
        expect(history.filter((e) => e.until === undefined)).toHaveLength(6)
        // Leaving calls no listener (the engine drains before it closes the session): b's
        // ownerships ended as "left".
        const bId = history.find((e) => e.end === "left")?.memberId
        expect(history.filter((e) => e.end === "left").every((e) => e.memberId === bId)).toBe(true)
        expect(log.some((e) => e.member === "b" && e.type === "revoking" && e.partitions.length === 2)).toBe(false)
      })
    )
  )

  it.effect(
    "eager: onRevoked of every member completes before anyone is assigned, and the rebalance waits for it",
    () =>
      provide(
        Effect.gen(function* () {
          const kafka = yield* clusterWithTopic("t", 4)
          const log: Array<LogEntry> = []
          const commits: Array<string> = []
          // A slow revocation that commits its final offsets inside onRevoked: accepted.
          const a = yield* member("a", log, { hooks: { onRevoked: commitAfter("5 seconds", commits, "final") } })
          const first = yield* kafka.awaitStable("g")
          expect(first.members[0]!.assigned).toHaveLength(4)
          const b = yield* member("b", log)
          yield* eventually(() => log.some((e) => e.member === "a" && e.type === "revoking"), "a revoking")
          yield* TestClock.adjust("4 seconds")
          yield* settle
          // Still waiting for a: nobody got anything, a still owns everything for the coordinator.
          expect(log.filter((e) => e.member === "b")).toEqual([])
          const during = (yield* kafka.group("g"))!
          expect(during.state).toBe("rebalancing")
          expect(during.members.find((m) => m.clientId === "test" && m.assigned.length === 4)).toBeDefined()
          yield* TestClock.adjust("1 second")
          const after = yield* kafka.awaitStable("g")
          everyPartitionOnce(after, "t", 4)
          expect(commits).toEqual(["accepted"])
          const revoked = log.findIndex((e) => e.member === "a" && e.type === "revoked")
          const assignedB = log.findIndex((e) => e.member === "b" && e.type === "assigned")
          expect(revoked).toBeGreaterThan(-1)
          expect(assignedB).toBeGreaterThan(revoked)
          expect(after.generation).toBe(first.generation + 1)
          // a no longer owns what went to b: a commit of it is rejected.
          const bOwns = [...b.owned].map(TP.fromKey)
          const error = yield* Effect.flip(a.session!.commit(bOwns.map((tp) => ({ ...tp, offset: 1 }))))
          expect(error.reason).toBe("rebalance")
          const events = yield* kafka.groupEvents("g")
          const types = events.map((e) => e.type)
          expect(types.indexOf("revoked")).toBeLessThan(types.lastIndexOf("generation"))
        })
      )
  )

  it.effect(
    "a member that does not finish onRevoked within the rebalance timeout is expelled: its partitions are lost, its late commit rejected, and it rejoins",
    () =>
      provide(
        Effect.gen(function* () {
          const kafka = yield* clusterWithTopic("t", 4)
          const log: Array<LogEntry> = []
          const late: Array<string> = []
          yield* member("a", log, {
            subscription: { rebalanceTimeout: Duration.seconds(10) },
            hooks: { onRevoked: commitAfter("25 seconds", late) }
          })
          const first = yield* kafka.awaitStable("g")
          const firstId = first.members[0]!.memberId
          const b = yield* member("b", log)
          yield* eventually(() => log.some((e) => e.member === "a" && e.type === "revoking"), "a revoking")
          yield* TestClock.adjust("10 seconds")
          yield* eventually(() => b.owned.size === 4, "b owns everything")
          const history = yield* kafka.ownershipHistory("g")
          expect(history.filter((e) => e.memberId === firstId).map((e) => e.end)).toEqual([
            "lost",
            "lost",
            "lost",
            "lost"
          ])
          yield* TestClock.adjust("15 seconds")
          yield* eventually(() => late.length === 1, "the late commit")
          expect(late).toEqual(["rebalance"])
          const after = yield* kafka.awaitStable("g")
          expect(after.members).toHaveLength(2)
          expect(after.members.map((m) => m.memberId)).not.toContain(firstId)
          everyPartitionOnce(after, "t", 4)
          expect((yield* kafka.groupEvents("g")).some((e) => e.type === "expelled" && e.memberId === firstId)).toBe(
            true
          )
        })
      )
  )

  it.effect(
    "a crashed member is expelled after its session timeout: the others rebalance, it gets onLost, its session fails",
    () =>
      provide(
        Effect.gen(function* () {
          const kafka = yield* clusterWithTopic("t", 4)
          const log: Array<LogEntry> = []
          const a = yield* member("a", log, { subscription: { sessionTimeout: Duration.seconds(10) } })
          const b = yield* member("b", log)
          yield* kafka.awaitStable("g")
          const aId = (yield* a.session!.memberId)!
          const aOwned = [...a.owned]
          expect(aOwned).toHaveLength(2)
          yield* kafka.faults.crash(aId)
          // A dead process cannot reach the coordinator.
          const error = yield* Effect.flip(a.session!.commit(aOwned.map((k) => ({ ...TP.fromKey(k), offset: 0 }))))
          expect(error.reason).toBe("connection")
          expect(error.retriable).toBe(true)
          // Records produced now are not delivered to the crashed member.
          yield* kafka.produce(numbered("t", 40, 4))
          yield* eventually(() => b.count === 20, "b's records")
          yield* settle
          expect(a.count).toBe(0)
          const failed = yield* Effect.fork(a.session!.failed)
          yield* TestClock.adjust(Duration.millis(9_999))
          yield* settle
          expect((yield* kafka.group("g"))!.members.map((m) => m.memberId)).toContain(aId)
          yield* TestClock.adjust(Duration.millis(1))
          const after = yield* kafka.awaitStable("g")
          expect(after.members.map((m) => m.memberId)).not.toContain(aId)
          expect(after.members[0]!.assigned).toHaveLength(4)
          expect(a.lost.sort()).toEqual(aOwned.sort())
          const exit = yield* Fiber.await(failed)
          expect(Exit.isFailure(exit)).toBe(true)
          // b takes over a's partitions from their committed offsets (none: from the start).
          yield* eventually(() => aOwned.every((k) => b.received.get(k)?.length === 10), "b takes over a's records")
          const events = yield* kafka.groupEvents("g")
          expect(events.find((e) => e.type === "sessionExpired")?.time).toBe(
            events.find((e) => e.type === "crashed")!.time + 10_000
          )
        })
      )
  )

  it.effect("a commit with a stale generation or from a non-member is rejected with reason rebalance", () =>
    provide(
      Effect.gen(function* () {
        const kafka = yield* clusterWithTopic("t", 2)
        const a = yield* member("a")
        yield* member("b")
        const stable = yield* kafka.awaitStable("g")
        const aId = (yield* a.session!.memberId)!
        const mine = [...a.owned].map(TP.fromKey)
        yield* a.session!.commit(mine.map((tp) => ({ ...tp, offset: 0 })))
        yield* kafka.faults.fence(aId)
        const error = yield* Effect.flip(a.session!.commit(mine.map((tp) => ({ ...tp, offset: 1 }))))
        expect(error._tag).toBe("KafkaError")
        expect(error.reason).toBe("rebalance")
        expect(error.retriable).toBe(false)
        const rejected = yield* kafka.rejectedCommits("g")
        expect(rejected.at(-1)!.memberId).toBe(aId)
        expect(rejected.at(-1)!.generation).toBe(-1)
        // The fenced member learns it lost its partitions, then rejoins under a new id.
        const after = yield* kafka.awaitStable("g")
        expect(a.lost.sort()).toEqual(mine.map(TP.key).sort())
        expect(after.generation).toBeGreaterThan(stable.generation)
        const newId = (yield* a.session!.memberId)!
        expect(newId).not.toBe(aId)
        everyPartitionOnce(after, "t", 2)
        // Under its new membership it commits what it owns now.
        yield* a.session!.commit([...a.owned].map((k) => ({ ...TP.fromKey(k), offset: 0 })))
        const log = yield* kafka.commitLog("g")
        expect(log.at(-1)!.memberId).toBe(newId)
        expect(log.at(-1)!.generation).toBe(after.generation)
      })
    )
  )

  it.effect("pause stops delivery of a partition, resume restarts it", () =>
    provide(
      Effect.gen(function* () {
        const kafka = yield* clusterWithTopic("t", 2)
        const a = yield* member("a")
        yield* kafka.awaitStable("g")
        yield* kafka.produce(numbered("t", 20, 2))
        yield* eventually(() => a.count === 20, "first records")
        yield* a.session!.pause([{ topic: "t", partition: 0 }])
        yield* kafka.produce(numbered("t", 20, 2))
        yield* eventually(() => a.received.get("t|1")!.length === 20, "partition 1 goes on")
        yield* settle
        expect(a.received.get("t|0")).toHaveLength(10)
        yield* a.session!.resume([{ topic: "t", partition: 0 }])
        yield* eventually(() => a.received.get("t|0")!.length === 20, "partition 0 resumed")
        expect(a.received.get("t|0")).toEqual(Array.from({ length: 20 }, (_, i) => i))
      })
    )
  )

  it.effect("cooperative: only the partitions that move are revoked", () =>
    provide(
      Effect.gen(function* () {
        const kafka = yield* clusterWithTopic("t", 6)
        const log: Array<LogEntry> = []
        const a = yield* member("a", log)
        yield* kafka.awaitStable("g")
        expect(a.owned.size).toBe(6)
        const b = yield* member("b", log)
        const after = yield* kafka.awaitStable("g")
        everyPartitionOnce(after, "t", 6)
        const revoked = log.filter((e) => e.member === "a" && e.type === "revoking")
        expect(revoked).toHaveLength(1)
        expect(revoked[0]!.partitions).toHaveLength(3)
        expect(a.owned.size).toBe(3)
        expect(b.owned.size).toBe(3)
        // The partitions a kept were never interrupted: their ownership entries are still open.
        const history = yield* kafka.ownershipHistory("g")
        const aId = (yield* a.session!.memberId)!
        expect(history.filter((e) => e.memberId === aId && e.until === undefined)).toHaveLength(3)
        expect(history.filter((e) => e.memberId === aId && e.end === "revoked")).toHaveLength(3)
      }),
      { protocol: "cooperative", assignor: "sticky" }
    )
  )

  it.effect("a topic created or grown after subscribing triggers a rebalance", () =>
    provide(
      Effect.gen(function* () {
        const kafka = yield* MemoryKafka.MemoryKafka
        const a = yield* member("a", [], { subscription: { topics: ["later"] } })
        yield* kafka.awaitStable("g")
        expect(a.owned.size).toBe(0)
        yield* kafka.createTopic("later", 2)
        yield* kafka.awaitStable("g")
        expect(a.owned.size).toBe(2)
        yield* kafka.createPartitions("later", 3)
        yield* kafka.awaitStable("g")
        expect(a.owned.size).toBe(3)
      })
    )
  )

  it.effect("the same seed replays the same run; another seed does not", () => {
    const scenario = (seed: number) =>
      Effect.gen(function* () {
        const kafka = yield* clusterWithTopic("t", 6)
        yield* kafka.produce(numbered("t", 60))
        const log: Array<LogEntry> = []
        const members: Array<Recorder> = []
        for (const name of ["a", "b", "c"]) members.push(yield* member(name, log))
        yield* kafka.awaitStable("g")
        yield* kafka.faults.crash((yield* members[1]!.session!.memberId)!)
        yield* TestClock.adjust("10 seconds")
        yield* kafka.awaitStable("g")
        yield* members[2]!.leave
        yield* kafka.awaitStable("g")
        yield* kafka.faults.forceRebalance()
        yield* kafka.awaitStable("g")
        return {
          ownership: yield* kafka.ownershipHistory(),
          events: (yield* kafka.groupEvents()).map((e) => ({ ...e, partitions: e.partitions?.map(TP.key) })),
          log
        }
      }).pipe(Effect.provide(MemoryKafka.layer({ seed })), Effect.provide(TestContext.TestContext))
    return Effect.gen(function* () {
      const first = yield* scenario(7)
      const second = yield* scenario(7)
      const other = yield* scenario(8)
      expect(second).toEqual(first)
      expect(first.ownership.length).toBeGreaterThan(6)
      expect(other.ownership.map((e) => e.memberId)).not.toEqual(first.ownership.map((e) => e.memberId))
    })
  })
})

// -----------------------------------------------------------------------------------------
// Faults
// -----------------------------------------------------------------------------------------

describe("memory: faults", () => {
  it.effect("failCommits fails the next N commits with the scripted error", () =>
    provide(
      Effect.gen(function* () {
        const kafka = yield* clusterWithTopic("t", 1)
        const a = yield* member("a")
        yield* kafka.awaitStable("g")
        const commit = (offset: number) => Effect.either(a.session!.commit([{ topic: "t", partition: 0, offset }]))
        yield* kafka.faults.failCommits({ times: 2, error: "rebalanceInProgress" })
        yield* kafka.faults.failCommits({ times: 1, error: "fenced" })
        const results = [yield* commit(1), yield* commit(2), yield* commit(3), yield* commit(4)]
        expect(results.map((r) => (r._tag === "Left" ? `${r.left.reason}/${r.left.retriable}` : "ok"))).toEqual([
          "rebalance/true",
          "rebalance/true",
          "rebalance/false",
          "ok"
        ])
        expect((yield* kafka.committed("g", "t")).get(0)).toEqual({ offset: 4, metadata: "" })
        expect((yield* kafka.rejectedCommits("g")).map((r) => r.offsets[0]!.offset)).toEqual([1, 2, 3])
        // Random faults follow the seed.
        yield* kafka.faults.failCommits({ probability: 0.3, error: "retriable" })
        const outcomes: Array<boolean> = []
        for (let i = 0; i < 200; i++) outcomes.push((yield* commit(10 + i))._tag === "Left")
        const failures = outcomes.filter(Boolean).length
        expect(failures).toBeGreaterThan(30)
        expect(failures).toBeLessThan(90)
        yield* kafka.faults.clear
        expect((yield* commit(1_000))._tag).toBe("Right")
      }),
      { seed: 3 }
    )
  )

  it.effect("failFetches stops delivery for a duration of the Clock", () =>
    provide(
      Effect.gen(function* () {
        const kafka = yield* clusterWithTopic("t", 2)
        const a = yield* member("a")
        yield* kafka.awaitStable("g")
        yield* kafka.faults.failFetches({ duration: "5 seconds", topic: "t" })
        yield* kafka.produce(numbered("t", 10, 2))
        yield* settle
        expect(a.count).toBe(0)
        yield* TestClock.adjust("4999 millis")
        yield* settle
        expect(a.count).toBe(0)
        yield* TestClock.adjust("1 millis")
        yield* eventually(() => a.count === 10, "delivery resumed")
      })
    )
  )

  it.effect("forceRebalance and rebalanceStorm run new generations", () =>
    provide(
      Effect.gen(function* () {
        const kafka = yield* clusterWithTopic("t", 2)
        const log: Array<LogEntry> = []
        yield* member("a", log)
        yield* member("b", log)
        const start = yield* kafka.awaitStable("g")
        yield* kafka.faults.forceRebalance("g")
        const forced = yield* kafka.awaitStable("g")
        expect(forced.generation).toBe(start.generation + 1)
        const storm = yield* Effect.fork(kafka.faults.rebalanceStorm({ times: 3, interval: "1 second", groupId: "g" }))
        yield* kafka.awaitStable("g")
        yield* TestClock.adjust("1 second")
        yield* kafka.awaitStable("g")
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(storm)
        const after = yield* kafka.awaitStable("g")
        expect(after.generation).toBe(forced.generation + 3)
        everyPartitionOnce(after, "t", 2)
        // Eager: each of the four rebalances revoked everything from both members (the two
        // joins, made without yielding, were one rebalance).
        expect(log.filter((e) => e.type === "revoking")).toHaveLength(2 * 4)
      })
    )
  )

  it.effect("crash of an unknown member fails", () =>
    provide(
      Effect.gen(function* () {
        const kafka = yield* MemoryKafka.MemoryKafka
        const error = yield* Effect.flip(kafka.faults.crash("nobody"))
        expect(error.reason).toBe("protocol")
      })
    )
  )
})

// -----------------------------------------------------------------------------------------
// TestCluster and assignors
// -----------------------------------------------------------------------------------------

describe("memory: TestCluster and assignors", () => {
  it.effect("TestCluster creates, produces and reports committed and end offsets", () =>
    provide(
      Effect.gen(function* () {
        const cluster = yield* TestCluster
        expect(cluster.name).toBe("memory")
        yield* cluster.createTopic("t", 2)
        yield* cluster.createTopic("t", 2)
        expect((yield* Effect.flip(cluster.createTopic("t", 3))).reason).toBe("protocol")
        yield* cluster.produce(numbered("t", 7, 2))
        expect([...(yield* cluster.endOffsets("t"))]).toEqual([
          [0, 4],
          [1, 3]
        ])
        const a = yield* member("a")
        const kafka = yield* MemoryKafka.MemoryKafka
        yield* kafka.awaitStable("g")
        yield* a.session!.commit([{ topic: "t", partition: 1, offset: 2 }])
        expect([...(yield* cluster.committed("g", "t"))]).toEqual([[1, 2]])
      })
    )
  )

  it("range, roundRobin and sticky assign every partition once, balanced", () => {
    const members = [
      { id: "c", topics: ["x", "y"], owned: [] },
      { id: "a", topics: ["x", "y"], owned: [] },
      { id: "b", topics: ["x"], owned: [] }
    ]
    const partitions = new Map([
      ["x", 5],
      ["y", 2]
    ])
    const range = assign("range", members, partitions)
    expect(range.get("a")!.map(TP.key)).toEqual(["x|0", "x|1", "y|0"])
    expect(range.get("b")!.map(TP.key)).toEqual(["x|2", "x|3"])
    expect(range.get("c")!.map(TP.key)).toEqual(["x|4", "y|1"])
    const rr = assign("roundRobin", members, partitions)
    expect(rr.get("a")!.map(TP.key)).toEqual(["x|0", "x|3", "y|1"])
    expect(rr.get("b")!.map(TP.key)).toEqual(["x|1", "x|4"])
    expect(rr.get("c")!.map(TP.key)).toEqual(["x|2", "y|0"])
    // Sticky keeps what members hold when balance allows it.
    const sticky = assign(
      "sticky",
      [
        { id: "a", topics: ["x"], owned: [0, 1, 2, 3, 4].map((p) => ({ topic: "x", partition: p })) },
        { id: "b", topics: ["x"], owned: [] }
      ],
      new Map([["x", 5]])
    )
    expect(sticky.get("a")!.map((tp) => tp.partition)).toEqual([0, 1, 2])
    expect(sticky.get("b")!.map((tp) => tp.partition)).toEqual([3, 4])
  })
})
