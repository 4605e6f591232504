/**
 * The typed stream API on the simulated cluster: `Consumer.stream` with batched commits, and
 * `Consumer.partitionedStream` across a rebalance — a drained revocation waits for the commit of
 * the record in hand, an interrupting one does not and ignores the late commit.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Codec from "@sluice/core/Codec"
import * as CommittableRecord from "@sluice/core/CommittableRecord"
import * as Consumer from "@sluice/core/Consumer"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as MemoryKafka from "../src/MemoryKafka.js"
import { eventually } from "../src/TestHelpers.js"

const Click = Schema.Struct({ n: Schema.Number })
const clicks = Topic.make({ name: "clicks", key: Codec.string, value: Codec.json(Click) })

const produceClicks = (count: number, partitions: number) =>
  Effect.flatMap(Producer.Producer, (producer) =>
    producer.send(
      clicks,
      Array.from({ length: count }, (_, i) => ({ key: `k${i}`, value: { n: i }, partition: i % partitions }))
    )
  )

const client = MemoryKafka.layerClient({ groupId: "clicks", commitInterval: "20 millis" }, { seed: 11 })

const committedOffsets = Effect.flatMap(MemoryKafka.MemoryKafka, (kafka) =>
  Effect.map(kafka.committed("clicks", "clicks"), (c) => new Map([...c].map(([p, o]) => [p, o.offset])))
)

/** A record a member of `twoMembers` handled. */
interface Seen {
  readonly member: string
  readonly partition: number
  readonly offset: number
}

/**
 * Two members of group `clicks` on 40 clicks over 2 partitions, each reading a partitioned
 * stream and committing every record it handled: `a` joins and, at record 10 of a partition,
 * signals and runs `hold` before handling it; `b` joins while `a` holds it (a rebalance).
 */
const twoMembers = (revocation: ConsumerSettings.RevocationStrategy, hold: Effect.Effect<void>) =>
  Effect.gen(function* () {
    const kafka = yield* MemoryKafka.MemoryKafka
    yield* kafka.createTopic("clicks", 2)
    yield* produceClicks(40, 2)
    const seen: Array<Seen> = []
    const ended: Array<string> = []
    const holding = yield* Deferred.make<void>()
    const settings = yield* ConsumerSettings.make({
      groupId: "clicks",
      commitInterval: "20 millis",
      revocation,
      shutdownTimeout: "2 seconds"
    })
    const start = (name: string) =>
      Effect.flatMap(Consumer.make(settings), (consumer) =>
        Effect.forkDaemon(
          consumer.partitionedStream(clicks).pipe(
            Stream.flatMap(
              (partition) =>
                partition.records.pipe(
                  Stream.mapEffect((r) =>
                    Effect.gen(function* () {
                      if (name === "a" && r.record.offset === 10) {
                        yield* Deferred.succeed(holding, undefined)
                        yield* hold
                      }
                      seen.push({ member: name, partition: r.record.partition, offset: r.record.offset })
                      return r
                    })
                  ),
                  CommittableRecord.commitWithin(1, "10 millis"),
                  Stream.onEnd(Effect.sync(() => ended.push(name)))
                ),
              { concurrency: "unbounded" }
            ),
            Stream.runDrain
          )
        )
      )
    const a = yield* start("a")
    yield* Deferred.await(holding)
    const b = yield* start("b")
    return { kafka, seen, ended, a, b }
  })

describe("memory: typed streams", () => {
  it.live("Consumer.stream: every record decoded, processed 8 at a time in order, committed in groups", () =>
    Effect.gen(function* () {
      const kafka = yield* MemoryKafka.MemoryKafka
      yield* kafka.createTopic("clicks", 3)
      yield* produceClicks(90, 3)
      const seen: Array<number> = []
      const groups: Array<number> = []
      const fiber = yield* Effect.fork(
        Consumer.stream(clicks).pipe(
          Stream.mapEffect((r) => Effect.sync(() => seen.push(r.record.value.n)).pipe(Effect.as(r)), {
            concurrency: 8
          }),
          CommittableRecord.commitWithin(20, "50 millis"),
          Stream.runForEach((batch) => Effect.sync(() => groups.push(batch.offsets.size)))
        )
      )
      yield* eventually(() => seen.length === 90, "every click", "10 seconds")
      const ends = yield* kafka.endOffsets("clicks")
      yield* eventually(() => groups.length > 0, "a commit", "10 seconds")
      for (let i = 0; i < 100; i++) {
        const committed = yield* committedOffsets
        if ([...ends].every(([p, end]) => committed.get(p) === end)) break
        yield* Effect.sleep("20 millis")
      }
      expect(yield* committedOffsets).toEqual(ends)
      yield* Fiber.interrupt(fiber)
      expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 90 }, (_, i) => i))
      // Each partition's records came in offset order (the stream merges the partitions).
      for (let p = 0; p < 3; p++) {
        const mine = seen.filter((n) => n % 3 === p)
        expect(mine).toEqual([...mine].sort((a, b) => a - b))
      }
    }).pipe(Effect.provide(client))
  )

  it.live(
    "G7 partitionedStream, drained revocation: the record in hand is committed before the partition moves, no duplicates",
    () =>
      Effect.gen(function* () {
        // a holds record 10 of each partition a while: the rebalance comes meanwhile.
        const { a, b, ended, kafka, seen } = yield* twoMembers(
          ConsumerSettings.drain("5 seconds"),
          Effect.sleep("300 millis")
        )
        // The rebalance completes once a's revocation committed what a had in hand.
        yield* eventually(() => ended.includes("a"), "a's stream of a revoked partition to end", "10 seconds")
        yield* kafka.awaitStable("clicks")
        yield* produceClicks(40, 2)
        yield* eventually(() => seen.some((s) => s.member === "b"), "b to get records", "10 seconds")
        yield* eventually(() => seen.length >= 80, "every click", "10 seconds")
        yield* Fiber.interrupt(b)
        yield* Fiber.interrupt(a)
        // No click was seen twice: a's commits reached the cluster before b took over.
        expect(seen.length).toBe(80)
        expect(new Set(seen.map((s) => `${s.partition}@${s.offset}`)).size).toBe(80)
      }).pipe(Effect.provide(client))
  )

  it.live(
    "G2 G4 partitionedStream, interrupting revocation: the partition moves without waiting for the record in hand; the next owner redoes it; the late commit is never sent",
    () =>
      Effect.gen(function* () {
        // a holds record 10 of each partition until the test lets go, after the rebalance.
        const letGo = yield* Deferred.make<void>()
        const { a, b, kafka, seen } = yield* twoMembers(ConsumerSettings.interrupt, Deferred.await(letGo))
        yield* eventually(() => seen.some((s) => s.member === "b"), "b to get a partition", "10 seconds")
        // The revocation did not wait for a's record 10: b starts the moved partition at it.
        const moved = seen.find((s) => s.member === "b")!.partition
        expect(seen.find((s) => s.member === "b")!.offset).toBe(10)
        yield* Deferred.succeed(letGo, undefined)
        yield* eventually(
          () => seen.filter((s) => s.member === "b" && s.partition === moved).length === 10,
          "b to handle the moved partition's 10..19",
          "10 seconds"
        )
        yield* Fiber.interrupt(b)
        yield* Fiber.interrupt(a)
        // a finished record 10 of the moved partition after it left: that commit was dropped,
        // never sent (the cluster rejected nothing), and b's commits stand.
        expect(yield* kafka.rejectedCommits("clicks")).toEqual([])
        expect((yield* committedOffsets).get(moved)).toBe(20)
      }).pipe(Effect.provide(client))
  )
})
