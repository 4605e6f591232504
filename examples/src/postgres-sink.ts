/**
 * `pnpm exec tsx examples/src/postgres-sink.ts`: a batch sink into PostgreSQL with
 * `@effect/sql-pg`. A batch pipeline hands its handler chunks of up to 200 records of one
 * partition; each chunk is one INSERT, committed to Kafka only after it succeeded. A replay
 * (a crash before the commit, a rebalance, a reset of the group's offsets) inserts nothing
 * twice: the row's key is the record's (topic, partition, offset), and a conflict does nothing.
 *
 * PostgreSQL from `DATABASE_URL`, by default postgres://postgres@127.0.0.1:5432/test.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import * as Pipeline from "@sluice/core/Pipeline"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import * as Chunk from "effect/Chunk"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Runner from "./internal/Runner.js"

const Click = Schema.Struct({ page: Schema.String, user: Schema.String })
export const clicks = Topic.make({ name: Runner.named("clicks"), key: Schema.String, value: Schema.parseJson(Click) })

export const PgLive = PgClient.layerConfig({
  url: Config.redacted("DATABASE_URL").pipe(
    Config.withDefault(Redacted.make("postgres://postgres@127.0.0.1:5432/test"))
  )
})

export const createTable = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => sql`CREATE TABLE IF NOT EXISTS clicks (
    topic text NOT NULL, partition integer NOT NULL, "offset" bigint NOT NULL,
    page text NOT NULL, "user" text NOT NULL,
    PRIMARY KEY (topic, partition, "offset"))`
)

/** Inserts a chunk in one statement; returns how many rows were new. */
const insert = (records: Chunk.Chunk<Topic.RecordOf<typeof clicks>>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = Chunk.toReadonlyArray(records).map((r) => ({
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      page: r.value.page,
      user: r.value.user
    }))
    // In a transaction, on a connection of its own: a revocation interrupts the handler, and
    // @effect/sql-pg cancels an interrupted pooled statement by the backend's pid, which may by
    // then serve another fiber (see @sluice/sql's README). `withTransaction` makes a failed
    // COMMIT a defect; as a failure again, the pipeline's policy retries it like a failed INSERT.
    const inserted = yield* sql
      .withTransaction(sql`INSERT INTO clicks ${sql.insert(rows)}
      ON CONFLICT (topic, partition, "offset") DO NOTHING RETURNING 1`)
      .pipe(
        Effect.catchSomeDefect((defect) =>
          defect instanceof SqlError ? Option.some(Effect.fail(defect)) : Option.none()
        )
      )
    return inserted.length
  })

/**
 * Runs the sink until `count` records went through it; returns the rows it inserted. A failed
 * INSERT retries the whole chunk (the database was down), then stops the consumer.
 */
export const runSink = (count: number) =>
  Effect.gen(function* () {
    let inserted = 0
    const progress = yield* Runner.countdown(count)
    const sink = Pipeline.make({
      topic: clicks,
      batch: { size: 200, within: "200 millis", onFailure: "chunk" },
      handler: (records: Chunk.Chunk<Topic.RecordOf<typeof clicks>>) =>
        insert(records).pipe(
          Effect.tap((n) => {
            inserted += n
            return progress.tick(Chunk.size(records))
          })
        ),
      policy: ErrorPolicy.retry(Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(5))))
    })
    yield* Effect.raceFirst(Pipeline.run(sink), progress.done)
    return inserted
  })

export const program = (count: number) =>
  Effect.gen(function* () {
    yield* createTable
    yield* Runner.createTopics([{ name: clicks.name, partitions: 3 }])
    const producer = yield* Producer.Producer
    yield* producer.send(
      clicks,
      Array.from({ length: count }, (_, i) => ({
        key: `user-${i % 9}`,
        value: { page: `/p/${i % 4}`, user: `user-${i % 9}` }
      }))
    )
    const inserted = yield* runSink(count)
    yield* Effect.log(`${count} clicks: ${inserted} new rows, ${count - inserted} already there (a replay, skipped)`)
    return inserted
  })

Runner.runMain(
  import.meta.url,
  program(1000).pipe(Effect.provide(Layer.merge(Runner.kafka({ groupId: Runner.named("clicks-sink") }), PgLive)))
)
