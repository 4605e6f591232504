/**
 * The SQL offset store on the real PostgreSQL (127.0.0.1:5432, database `test`), driven by the
 * simulated cluster: claims and fencing at the store's port, rows and positions committed
 * together across crashes and rebalances with transactions of one partition committing in any
 * order (unordered mode), the database cut mid-stream, and bad settings.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { describe, expect, it } from "@effect/vitest"
import * as Consumer from "@sluice/core/Consumer"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import * as OffsetStore from "@sluice/core/OffsetStore"
import * as Pipeline from "@sluice/core/Pipeline"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import { ProducerDriver } from "@sluice/core/ProducerDriver"
import * as Topic from "@sluice/core/Topic"
import * as TP from "@sluice/core/TopicPartition"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as SqlOffsetStore from "../src/SqlOffsetStore.js"
import { createRows, databaseUrl, PgLive, proxy, tally, unique } from "./support.js"

const produce = (topic: string, count: number, partitions: number) =>
  Effect.flatMap(ProducerDriver, (producer) =>
    producer.send(
      Array.from({ length: count }, (_, i) => ({
        topic,
        partition: i % partitions,
        key: new TextEncoder().encode(`k${i % 7}`),
        value: new TextEncoder().encode(String(i))
      }))
    )
  )

/** A row per record, in the transaction that saves its position. */
const insertRow = (rows: string) =>
  SqlOffsetStore.transactional((record: OffsetStore.RecordOffset) =>
    Effect.flatMap(
      SqlClient.SqlClient,
      (sql) =>
        sql`INSERT INTO ${sql(rows)} (topic, partition, "offset") VALUES (${record.topic}, ${record.partition}, ${record.offset})`
    )
  )

describe("SqlOffsetStore on PostgreSQL", () => {
  it.live(
    "G10 a claim raises the generation and returns the position; a save under an older claim is fenced and rolls back",
    () =>
      Effect.gen(function* () {
        const table = unique("positions")
        const rows = unique("rows")
        yield* SqlOffsetStore.migrate({ table })
        yield* createRows(rows)
        const sql = yield* SqlClient.SqlClient
        const store = yield* SqlOffsetStore.make({ table })
        const tp = TP.make("payments", 0)
        const [first] = yield* store.claim("ledger", [tp])
        expect(first).toMatchObject({ generation: 1, position: undefined })
        yield* sql.withTransaction(store.save(first!, [0, 1, 3], 0))
        const [second] = yield* store.claim("ledger", [tp])
        expect(second).toMatchObject({ generation: 2, position: { offset: 2 } })
        // Offset 3 was finished above the frontier: it travels in the metadata.
        expect(OffsetStore.advance(second!.position, [], 0).metadata).toBe(second!.position!.metadata)
        expect(second!.position!.metadata).toMatch(/^sluice:1:/)
        // The first owner, now a zombie, writes a row and saves: the transaction fails and rolls back.
        const fenced = yield* Effect.flip(
          sql.withTransaction(
            Effect.zipRight(
              sql`INSERT INTO ${sql(rows)} VALUES ('payments', 0, 2)`,
              Effect.flatMap(Effect.succeed(first!), (claim) => store.save(claim, [2], 2))
            )
          )
        )
        expect(fenced).toMatchObject({ _tag: "OffsetStoreError", reason: "fenced" })
        expect(yield* sql`SELECT * FROM ${sql(rows)}`).toHaveLength(0)
        yield* sql.withTransaction(store.save(second!, [2], 2))
        const [third] = yield* store.claim("ledger", [tp])
        expect(third!.position).toEqual({ offset: 4, metadata: "" })
        yield* sql`DROP TABLE ${sql(table)}, ${sql(rows)}`
      }).pipe(Effect.provide(PgLive))
  )

  it.live(
    "G10 unordered mode on the simulated cluster: crashes and rebalances, transactions of a partition committing in any order, every record has exactly one row",
    () =>
      Effect.gen(function* () {
        const table = unique("positions")
        const rows = unique("rows")
        const topic = unique("payments")
        yield* SqlOffsetStore.migrate({ table })
        yield* createRows(rows)
        const kafka = yield* MemoryKafka.MemoryKafka
        yield* kafka.createTopic(topic, 3)
        const count = 1500
        yield* produce(topic, count, 3)
        const settings = yield* ConsumerSettings.make({
          groupId: "ledger",
          commitInterval: "1 hour",
          commitEvery: 1_000_000,
          sessionTimeout: "300 millis",
          heartbeatInterval: "50 millis"
        })
        const fibers: Array<Fiber.RuntimeFiber<never, unknown>> = []
        const join = Effect.gen(function* () {
          const consumer = yield* Consumer.make(settings)
          const run = consumer.run({
            topics: [topic],
            mode: ProcessingMode.unordered({ concurrency: 8 }),
            handler: insertRow(rows)
          })
          fibers.push(yield* Effect.fork(Effect.provide(run, SqlOffsetStore.layer({ table }))))
        })
        const done = Effect.map(tally(rows, topic, count, 3), (t) => count - t.lost)
        const waitFor = (n: number) =>
          Effect.gen(function* () {
            for (let i = 0; i < 1500 && (yield* done) < n; i++) yield* Effect.sleep("10 millis")
          })
        yield* join
        yield* join
        for (let crash = 0; crash < 2; crash++) {
          yield* waitFor((yield* done) + 150)
          const stable = yield* kafka.awaitStable("ledger")
          const victim = stable.members.find((m) => m.assigned.length > 0)
          if (victim !== undefined) yield* kafka.faults.crash(victim.memberId)
          yield* join
          yield* Effect.sleep("400 millis")
        }
        yield* waitFor(count)
        yield* Effect.sleep("100 millis")
        for (const fiber of fibers) yield* Fiber.interrupt(fiber)
        const result = yield* tally(rows, topic, count, 3)
        yield* Effect.log(`G10 unordered on PostgreSQL: ${JSON.stringify(result)}`)
        expect(result).toEqual({ rows: count, lost: 0, duplicates: 0 })
        const sql = yield* SqlClient.SqlClient
        yield* sql`DROP TABLE ${sql(table)}, ${sql(rows)}`
      }).pipe(Effect.provide(Layer.merge(MemoryKafka.layer({ seed: 9, maxBatchSize: 50 }), PgLive))),
    60_000
  )

  it.live(
    "G10 the database unreachable mid-stream: the policy's schedule retries, then a typed stop; nothing lost or doubled after a restart",
    () =>
      Effect.gen(function* () {
        const table = unique("positions")
        const rows = unique("rows")
        const topic = unique("payments")
        yield* Effect.provide(Effect.zipRight(SqlOffsetStore.migrate({ table }), createRows(rows)), PgLive)
        const cut = yield* proxy(new URL(databaseUrl))
        const url = new URL(databaseUrl)
        url.host = `127.0.0.1:${cut.port}`
        const ThroughProxy = PgClient.layer({ url: Redacted.make(url.toString()) })
        const kafka = yield* MemoryKafka.MemoryKafka
        yield* kafka.createTopic(topic, 2)
        yield* produce(topic, 200, 2)
        let attempts = 0
        const sink = Pipeline.make({
          topic: Topic.make({ name: topic }),
          policy: ErrorPolicy.retry(Schedule.spaced("50 millis").pipe(Schedule.intersect(Schedule.recurs(3)))),
          handler: (record) =>
            Effect.suspend(() => {
              attempts++
              return insertRow(rows)(record)
            })
        })
        const run = (consumer: Consumer.ConsumerService) =>
          Pipeline.run(sink).pipe(
            Effect.provideService(Consumer.Consumer, consumer),
            Effect.provide(SqlOffsetStore.layer({ table }).pipe(Layer.provideMerge(ThroughProxy)))
          )
        const settings = yield* ConsumerSettings.make({ groupId: "ledger" })
        const first = yield* Effect.fork(run(yield* Consumer.make(settings)))
        const handled = Effect.map(Effect.provide(tally(rows, topic, 400, 2), PgLive), (t) => 400 - t.lost)
        for (let i = 0; i < 500 && (yield* handled) < 200; i++) yield* Effect.sleep("10 millis")
        cut.cut()
        const before = attempts
        yield* produce(topic, 200, 2)
        const exit = yield* Fiber.await(first)
        expect(Exit.isFailure(exit)).toBe(true)
        const failure = Exit.isFailure(exit) ? JSON.stringify(exit.cause) : ""
        expect(failure).toContain("HandlerError")
        expect(attempts - before).toBeGreaterThanOrEqual(4)
        cut.restore()
        const second = yield* Effect.fork(run(yield* Consumer.make(settings)))
        for (let i = 0; i < 1000 && (yield* handled) < 400; i++) yield* Effect.sleep("10 millis")
        yield* Effect.sleep("100 millis")
        yield* Fiber.interrupt(second)
        const result = yield* Effect.provide(tally(rows, topic, 400, 2), PgLive)
        expect(result).toEqual({ rows: 400, lost: 0, duplicates: 0 })
        yield* Effect.provide(
          Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP TABLE ${sql(table)}, ${sql(rows)}`),
          PgLive
        )
      }).pipe(Effect.scoped, Effect.provide(MemoryKafka.layer({ seed: 4 }))),
    60_000
  )

  it.live(
    "G10 claims interrupted mid-statement (a member crashing or revoked during its assignment) never cancel another statement of the pool",
    () =>
      Effect.gen(function* () {
        const table = unique("positions")
        yield* SqlOffsetStore.migrate({ table })
        const store = yield* SqlOffsetStore.make({ table })
        const sql = yield* SqlClient.SqlClient
        const partitions = Array.from({ length: 50 }, (_, p) => TP.make("claims", p))
        // Other users of the pool, around the clock: the statements a stray cancel would hit.
        let cancelled = 0
        let completed = 0
        let stop = false
        const bystander = Effect.gen(function* () {
          while (!stop) {
            const result = yield* Effect.either(sql`SELECT pg_sleep(0.001)`)
            if (result._tag === "Left") cancelled++
            else completed++
          }
        })
        const bystanders = yield* Effect.forEach([1, 2, 3], () => Effect.fork(bystander))
        // Interrupted at every point of the claim: before, during, and as it completes.
        for (let i = 0; i < 300; i++) {
          const claim = yield* Effect.fork(store.claim(`group-${i}`, partitions))
          yield* Effect.sleep(`${i % 4} millis`)
          yield* Fiber.interrupt(claim)
        }
        stop = true
        yield* Fiber.joinAll(bystanders)
        expect(completed).toBeGreaterThan(300)
        expect(cancelled).toBe(0)
        yield* sql`DROP TABLE ${sql(table)}`
      }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 4 }))),
    60_000
  )

  it.live("bad settings: a table name that is not one fails with a SettingsError naming `table`", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(SqlOffsetStore.make({ table: "offsets; DROP TABLE x" }))
      expect(error).toMatchObject({ _tag: "SettingsError", setting: "table" })
      const migrate = yield* Effect.flip(SqlOffsetStore.migrate({ table: "" }))
      expect(migrate).toMatchObject({ _tag: "SettingsError", setting: "table" })
      expect(SqlOffsetStore.ddl("sluice.offsets")).toContain(`CREATE TABLE IF NOT EXISTS "sluice"."offsets"`)
    }).pipe(Effect.provide(PgLive))
  )
})
