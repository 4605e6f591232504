/**
 * Typed streams and batch pipelines through kafkajs on a real broker: a plain stream with
 * batched commits, a partitioned stream across a rebalance, batch pipelines by size and time,
 * failures settled per record and per chunk, and a slow chunk during a rebalance.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Codec from "@sluice/core/Codec"
import * as CommittableRecord from "@sluice/core/CommittableRecord"
import * as Consumer from "@sluice/core/Consumer"
import type { ConsumerDriver } from "@sluice/core/ConsumerDriver"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import * as Pipeline from "@sluice/core/Pipeline"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { TestCluster } from "@sluice/testkit/TestCluster"
import { committedWhen, eventually, uniqueName } from "@sluice/testkit/TestHelpers"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as KafkaJs from "../src/KafkaJs.js"
import * as KafkaJsTestCluster from "./KafkaJsTestCluster.js"

const broker = await brokerForTests()

const Row = Schema.Struct({ id: Schema.Number })
const patience = "60 seconds"

describe.skipIf(broker === undefined)("typed streams and batch pipelines on a real broker", () => {
  const brokers = broker?.brokers ?? []
  const member = { sessionTimeout: "6 seconds", heartbeatInterval: "500 millis" } as const

  /** A fresh topic of `partitions` with `count` rows (row i in partition i % partitions), its codecs, a fresh group. */
  const fresh = (prefix: string, partitions: number, count: number) =>
    Effect.gen(function* () {
      const cluster = yield* TestCluster
      const name = uniqueName(prefix)
      yield* cluster.createTopic(name, partitions)
      const topic = Topic.make({ name, key: Codec.string, value: Codec.json(Row) })
      yield* produceRows(topic, partitions, 0, count)
      return { cluster, topic, groupId: uniqueName(`${prefix}-group`) }
    })

  const produceRows = (topic: Topic.Topic<string, typeof Row.Type>, partitions: number, from: number, count: number) =>
    Effect.flatMap(Producer.Producer, (producer) =>
      producer.send(
        topic,
        Array.from({ length: count }, (_, i) => ({
          key: `k${from + i}`,
          value: { id: from + i },
          partition: (from + i) % partitions
        }))
      )
    )

  /** The services on the broker for group `groupId`, and a `TestCluster` beside them. */
  const services = (groupId: string, settings: Partial<ConsumerSettings.Input> = {}) =>
    Layer.merge(
      KafkaJs.layer({ brokers, groupId, logLevel: "error", commitInterval: "100 millis", ...member, ...settings }),
      KafkaJsTestCluster.layer(brokers)
    )

  /**
   * Runs `body` with a producer, the drivers and a test cluster; its consumers are its own
   * (`services(groupId)`, or `Consumer.make` for several members of one group).
   */
  const test = <A, E>(body: Effect.Effect<A, E, Producer.Producer | TestCluster | ConsumerDriver>) =>
    body.pipe(Effect.provide(services(uniqueName("sluice-unused-group"))))

  const endsCommitted = (groupId: string, topic: string) =>
    Effect.gen(function* () {
      const cluster = yield* TestCluster
      const ends = yield* cluster.endOffsets(topic)
      const committed = yield* committedWhen(groupId, topic, (c) => [...ends].every(([p, end]) => c.get(p) === end))
      return { ends, committed }
    })

  const ids = (records: Chunk.Chunk<Topic.TypedRecord<string, typeof Row.Type, unknown>>) =>
    Chunk.toReadonlyArray(records).map((r) => r.value.id)

  it.live(
    "Consumer.stream: every record decoded, committed in groups by commitWithin up to the end offsets",
    () =>
      test(
        Effect.gen(function* () {
          const { groupId, topic } = yield* fresh("sluice-stream", 3, 150)
          const seen: Array<number> = []
          const run = Consumer.stream(topic).pipe(
            Stream.tap((r) => Effect.sync(() => seen.push(r.record.value.id))),
            CommittableRecord.commitWithin(20, "100 millis"),
            Stream.runDrain
          )
          const fiber = yield* Effect.fork(run.pipe(Effect.provide(services(groupId))))
          yield* eventually(() => seen.length === 150, "every row", patience)
          const { committed, ends } = yield* endsCommitted(groupId, topic.name)
          expect(committed).toEqual(ends)
          yield* Fiber.interrupt(fiber)
          expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 150 }, (_, i) => i))
        })
      ),
    120_000
  )

  it.live(
    "G1 G4 partitionedStream across a rebalance: the moved partition's stream ends, only what finished is committed, the next owner starts there",
    () =>
      test(
        Effect.gen(function* () {
          const { cluster, groupId, topic } = yield* fresh("sluice-pstream", 2, 40)
          const seen: Array<{ member: string; partition: number; offset: number }> = []
          const ended: Array<string> = []
          const settings = yield* ConsumerSettings.make({
            groupId,
            commitInterval: "100 millis",
            revocation: ConsumerSettings.drain("1 second"),
            shutdownTimeout: "4 seconds",
            ...member
          })
          const start = (name: string) =>
            Effect.flatMap(Consumer.make(settings), (consumer) =>
              Effect.forkDaemon(
                consumer.partitionedStream(topic).pipe(
                  Stream.flatMap(
                    (partition) =>
                      partition.records.pipe(
                        Stream.tap((r) =>
                          Effect.sync(() =>
                            seen.push({ member: name, partition: r.record.partition, offset: r.record.offset })
                          )
                        ),
                        // a finishes (commits) only the first 15 records of each partition.
                        Stream.filter((r) => name !== "a" || r.record.offset < 15),
                        CommittableRecord.commitWithin(5, "50 millis"),
                        Stream.onEnd(Effect.sync(() => ended.push(name)))
                      ),
                    { concurrency: "unbounded" }
                  ),
                  Stream.runDrain
                )
              )
            )
          const a = yield* start("a")
          yield* eventually(() => seen.length === 40, "a to see every record", patience)
          const byA = yield* committedWhen(groupId, topic.name, (c) => c.get(0) === 15 && c.get(1) === 15)
          expect([byA.get(0), byA.get(1)]).toEqual([15, 15])
          const b = yield* start("b")
          yield* eventually(() => ended.includes("a"), "a's stream of a revoked partition to end", patience)
          yield* eventually(() => seen.some((s) => s.member === "b"), "b to receive records", patience)
          const moved = seen.find((s) => s.member === "b")!.partition
          const ofB = () => seen.filter((s) => s.member === "b" && s.partition === moved).map((s) => s.offset)
          yield* eventually(() => ofB().length === 5, "b to read the moved partition's rest", patience)
          // b starts where a's commits stopped: nothing a had not finished was committed.
          expect(ofB()).toEqual([15, 16, 17, 18, 19])
          yield* committedWhen(groupId, topic.name, (c) => c.get(moved) === 20)
          yield* Fiber.interrupt(b)
          yield* Fiber.interrupt(a)
          const committed = yield* cluster.committed(groupId, topic.name)
          expect(committed.get(moved)).toBe(20)
        })
      ),
    120_000
  )

  it.live(
    "batch pipelines: chunks by size and by time, committed after each chunk; failures settled per record and per chunk",
    () =>
      test(
        Effect.gen(function* () {
          const cluster = yield* TestCluster
          const { groupId, topic: bySize } = yield* fresh("sluice-batch-size", 2, 100)
          const { topic: byRecord } = yield* fresh("sluice-batch-record", 1, 20)
          const { topic: byChunk } = yield* fresh("sluice-batch-chunk", 1, 20)
          const dlq = uniqueName("sluice-batch-dlq")
          yield* cluster.createTopic(dlq, 1)
          const sizes: Array<number> = []
          const recordRows: Array<number> = []
          const chunkAttempts: Array<ReadonlyArray<number>> = []
          const refuse13 = (records: Chunk.Chunk<Topic.TypedRecord<string, typeof Row.Type, unknown>>) =>
            ids(records).includes(13) ? Effect.fail("constraint violated" as const) : Effect.void
          const policy = ErrorPolicy.retry(Schedule.recurs(1), ErrorPolicy.deadLetter(dlq))
          const fiber = yield* Effect.fork(
            Pipeline.run(
              Pipeline.make({
                topic: bySize,
                batch: { size: 10, within: "200 millis" },
                handler: (records) => Effect.sync(() => sizes.push(Chunk.size(records)))
              }),
              Pipeline.make({
                topic: byRecord,
                batch: { size: 10, within: "200 millis", onFailure: "record" },
                handler: (records) =>
                  Effect.tap(refuse13(records), () => Effect.sync(() => recordRows.push(...ids(records)))),
                policy
              }),
              Pipeline.make({
                topic: byChunk,
                batch: { size: 10, within: "200 millis", onFailure: "chunk" },
                handler: (records) =>
                  Effect.zipRight(
                    Effect.sync(() => chunkAttempts.push(ids(records))),
                    refuse13(records)
                  ),
                policy
              })
            ).pipe(Effect.provide(services(groupId)))
          )
          yield* eventually(() => sizes.reduce((a, b) => a + b, 0) === 100, "every row by size", patience)
          // Three more rows cannot fill a chunk: they are handed over `within` after the first.
          const before = sizes.length
          yield* produceRows(bySize, 1, 100, 3)
          yield* eventually(() => sizes.reduce((a, b) => a + b, 0) === 103, "the three late rows", patience)
          expect(sizes.slice(before)).toEqual([3])
          yield* eventually(() => recordRows.length === 19, "the 19 good rows by record", patience)
          for (const topic of [bySize.name, byRecord.name, byChunk.name]) {
            const { committed, ends } = yield* endsCommitted(groupId, topic)
            expect(committed).toEqual(ends)
          }
          yield* Fiber.interrupt(fiber)
          for (const size of sizes) expect(size).toBeLessThanOrEqual(10)
          expect(recordRows.sort((a, b) => a - b)).toEqual(
            Array.from({ length: 20 }, (_, i) => i).filter((i) => i !== 13)
          )
          // The chunk holding row 13 ran twice as a whole (one retry), then went to the dead letters whole.
          const failing = chunkAttempts.filter((c) => c.includes(13))
          expect(failing.length).toBe(2)
          const letters = yield* cluster.readAll(dlq)
          const dead = letters.map((l) => JSON.parse(new TextDecoder().decode(l.value!)).id as number)
          expect(dead.sort((a, b) => a - b)).toEqual([13, ...failing[0]!].sort((a, b) => a - b))
        })
      ),
    120_000
  )

  it.live(
    "G4 a slow chunk during a rebalance is interrupted, its finalizer runs, and the next owner redoes it",
    () =>
      test(
        Effect.gen(function* () {
          const { groupId, topic } = yield* fresh("sluice-batch-slow", 2, 40)
          const released: Array<string> = []
          const done: Array<{ member: string; ids: ReadonlyArray<number> }> = []
          const hanging = yield* Deferred.make<void>()
          const settings = yield* ConsumerSettings.make({
            groupId,
            commitInterval: "100 millis",
            revocation: ConsumerSettings.interrupt,
            shutdownTimeout: "2 seconds",
            ...member
          })
          const sink = (name: string) =>
            Pipeline.make({
              topic,
              batch: { size: 10, within: "200 millis" },
              handler: (records) =>
                Effect.gen(function* () {
                  // a's chunks from row 20 on hang until a revocation interrupts them.
                  if (name === "a" && ids(records)[0]! >= 20) {
                    yield* Effect.acquireRelease(Effect.void, () => Effect.sync(() => released.push(name)))
                    yield* Deferred.succeed(hanging, undefined)
                    return yield* Effect.never
                  }
                  done.push({ member: name, ids: ids(records) })
                }).pipe(Effect.scoped)
            })
          const start = (name: string) =>
            Effect.flatMap(Consumer.make(settings), (consumer) =>
              Effect.forkDaemon(Pipeline.run(sink(name)).pipe(Effect.provideService(Consumer.Consumer, consumer)))
            )
          const a = yield* start("a")
          yield* Deferred.await(hanging)
          const b = yield* start("b")
          yield* eventually(() => released.length > 0, "a's slow chunk to be interrupted", patience)
          const byB = () => done.filter((d) => d.member === "b").flatMap((d) => d.ids)
          yield* eventually(() => byB().length >= 10, "b to redo the moved partition's chunk", patience)
          // Nothing of the interrupted chunk was committed: b starts at its first row.
          const moved = byB()[0]! % 2
          expect([...byB()].sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => 20 + i * 2 + moved))
          yield* Fiber.interrupt(b)
          yield* Fiber.interrupt(a)
        })
      ),
    120_000
  )
})
