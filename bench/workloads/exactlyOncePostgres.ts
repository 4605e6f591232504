/**
 * Workload `exactly_once_postgres`: exactly once into PostgreSQL (G10) against at least once, on the same records.
 * The simulated cluster feeds a pipeline whose sink writes a row per record into the real
 * PostgreSQL (`DATABASE_URL`, by default postgres://postgres@127.0.0.1:5432/test); the broker is
 * left out so that the ratio is the sink's own cost. Per variant, the same records:
 *
 * - `atLeastOnce`: the idempotent sink of the examples (`INSERT … ON CONFLICT DO NOTHING`, one
 *   statement, no transaction), the Kafka commit deciding where a restart begins;
 * - `exactlyOnce`: `SqlOffsetStore.transactional` around a plain INSERT (BEGIN, INSERT, the
 *   position read `FOR UPDATE` and written, COMMIT), the store deciding where a restart begins.
 *
 * Each in two shapes: a batch pipeline (chunks of `chunk` records, one statement or transaction
 * per chunk) and a record-at-a-time pipeline. Variants alternate within a round.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Consumer from "@sluice/core/Consumer"
import type * as ConsumerRecord from "@sluice/core/ConsumerRecord"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import { ProducerDriver } from "@sluice/core/ProducerDriver"
import * as SqlOffsetStore from "@sluice/sql/SqlOffsetStore"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { args, die, emit, now } from "../lib/common.js"

export type Variant = "atLeastOnce" | "exactlyOnce"
export type Shape = "batch" | "record"

export interface ExactlyOnceArgs {
  /** Records per run of the batch shape; the record shape runs `records / 10` (a transaction each). */
  readonly records: number
  readonly chunk: number
  readonly partitions: number
  readonly rounds: number
}

export interface ExactlyOnceRun {
  readonly round: number
  readonly variant: Variant
  readonly shape: Shape
  readonly records: number
  readonly seconds: number
}

export interface ExactlyOnceResult {
  readonly runs: ReadonlyArray<ExactlyOnceRun>
}

const PgLive = PgClient.layer({
  url: Redacted.make(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test")
})
const rows = `sluice_bench_rows_${process.pid}`
const positions = `sluice_bench_positions_${process.pid}`

const rowsOf = (records: ReadonlyArray<ConsumerRecord.ConsumerRecord>) =>
  records.map((r) => ({ topic: r.topic, partition: r.partition, offset: r.offset, value: r.value?.length ?? 0 }))

const atLeastOnce = (records: ReadonlyArray<ConsumerRecord.ConsumerRecord>) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`INSERT INTO ${sql(rows)} ${sql.insert(rowsOf(records))} ON CONFLICT DO NOTHING`
  )

const plainInsert = (records: ReadonlyArray<ConsumerRecord.ConsumerRecord>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`INSERT INTO ${sql(rows)} ${sql.insert(rowsOf(records))}`)

const runOnce = (a: ExactlyOnceArgs, variant: Variant, shape: Shape, round: number) =>
  Effect.gen(function* () {
    const count = shape === "batch" ? a.records : Math.floor(a.records / 10)
    const topic = `eos-${variant}-${shape}-${round}`
    const kafka = yield* MemoryKafka.MemoryKafka
    yield* kafka.createTopic(topic, a.partitions)
    const producer = yield* ProducerDriver
    const value = new Uint8Array(100)
    for (let from = 0; from < count; from += 10_000) {
      yield* producer.send(
        Array.from({ length: Math.min(10_000, count - from) }, (_, i) => ({
          topic,
          partition: (from + i) % a.partitions,
          key: null,
          value
        }))
      )
    }
    const consumer = yield* Consumer.make(yield* ConsumerSettings.make({ groupId: topic }))
    let left = count
    let started = 0
    const done = yield* Deferred.make<void>()
    const tick = (n: number) =>
      Effect.suspend(() => {
        if (started === 0) started = now()
        left -= n
        return left <= 0 ? Deferred.succeed(done, undefined) : Effect.void
      })
    const run =
      shape === "batch"
        ? consumer.runBatch({
            topics: [topic],
            batch: { size: a.chunk, within: "20 millis" },
            handler: (chunk) => {
              const records = Chunk.toReadonlyArray(chunk)
              const write =
                variant === "exactlyOnce"
                  ? SqlOffsetStore.transactional(() => plainInsert(records))(chunk)
                  : atLeastOnce(records)
              return Effect.zipRight(write, tick(records.length))
            }
          })
        : consumer.run({
            topics: [topic],
            handler: (record) => {
              const write =
                variant === "exactlyOnce"
                  ? SqlOffsetStore.transactional(() => plainInsert([record]))(record)
                  : atLeastOnce([record])
              return Effect.zipRight(write, tick(1))
            }
          })
    const store = SqlOffsetStore.layer({ table: positions })
    // The at-least-once handler never reaches `save`; the handler's type covers both variants.
    const fiber = yield* Effect.fork(
      variant === "exactlyOnce"
        ? Effect.provide(run, store)
        : (run as Effect.Effect<never, unknown, SqlClient.SqlClient | MemoryKafka.MemoryKafka>)
    )
    yield* Deferred.await(done)
    const seconds = (now() - started) / 1000
    yield* Fiber.interrupt(fiber)
    return { round, variant, shape, records: count, seconds } satisfies ExactlyOnceRun
  })

const program = (a: ExactlyOnceArgs) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE ${sql(rows)} (topic text NOT NULL, partition integer NOT NULL, "offset" bigint NOT NULL, value integer NOT NULL, PRIMARY KEY (topic, partition, "offset"))`
    yield* SqlOffsetStore.migrate({ table: positions })
    const runs: Array<ExactlyOnceRun> = []
    yield* Effect.ensuring(
      Effect.gen(function* () {
        for (let round = 1; round <= a.rounds; round++) {
          for (const shape of ["batch", "record"] as const) {
            const order: ReadonlyArray<Variant> =
              round % 2 === 0 ? ["exactlyOnce", "atLeastOnce"] : ["atLeastOnce", "exactlyOnce"]
            for (const variant of order) {
              const run = yield* runOnce(a, variant, shape, round)
              runs.push(run)
              process.stderr.write(
                `exactly_once round ${round} ${shape} ${variant}: ${Math.round(run.records / run.seconds)} records/s\n`
              )
            }
          }
        }
      }),
      Effect.orDie(sql`DROP TABLE IF EXISTS ${sql(rows)}, ${sql(positions)}`)
    )
    return { runs } satisfies ExactlyOnceResult
  }).pipe(Effect.provide(Layer.merge(PgLive, MemoryKafka.layer({ seed: 1 }))))

Effect.runPromise(program(args<ExactlyOnceArgs>())).then(emit, die)
