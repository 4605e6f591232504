/**
 * `pnpm exec tsx examples/src/ledger.ts`: payments into a PostgreSQL ledger, exactly once (G10).
 * Each payment's row and the position past its record commit in one database transaction
 * (`SqlOffsetStore.transactional`); the consumer starts each partition where the ledger's table
 * of positions says, so a crash, a rebalance or a restart neither drops nor doubles a payment.
 * The table has no unique key on purpose: exactly once comes from the transaction, not from an
 * idempotent insert (a payment without a natural key could not be deduplicated).
 *
 * PostgreSQL from `DATABASE_URL`, by default postgres://postgres@127.0.0.1:5432/test.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import * as Pipeline from "@sluice/core/Pipeline"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import * as SqlOffsetStore from "@sluice/sql/SqlOffsetStore"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Runner from "./internal/Runner.js"

const Payment = Schema.Struct({ account: Schema.String, cents: Schema.Int })
export const payments = Topic.make({
  name: Runner.named("payments"),
  key: Schema.String,
  value: Schema.parseJson(Payment)
})

export const PgLive = PgClient.layerConfig({
  url: Config.redacted("DATABASE_URL").pipe(
    Config.withDefault(Redacted.make("postgres://postgres@127.0.0.1:5432/test"))
  )
})

/** The store's positions live beside the ledger, in the same database. */
export const StoreLive = SqlOffsetStore.layer({ table: "ledger_positions" }).pipe(Layer.provideMerge(PgLive))

export const createTables = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE IF NOT EXISTS ledger (
    account text NOT NULL, cents bigint NOT NULL, topic text NOT NULL, partition integer NOT NULL, "offset" bigint NOT NULL)`
  yield* SqlOffsetStore.migrate({ table: "ledger_positions" })
})

/** Books one payment: its row and the position past it, in one transaction. */
const book = SqlOffsetStore.transactional((payment: Topic.RecordOf<typeof payments>) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql`INSERT INTO ledger (account, cents, topic, partition, "offset")
      VALUES (${payment.value.account}, ${payment.value.cents}, ${payment.topic}, ${payment.partition}, ${payment.offset})`
  )
)

/** Runs the ledger until `count` payments were booked (a failed transaction is retried, then stops it). */
export const runLedger = (count: number) =>
  Effect.gen(function* () {
    const progress = yield* Runner.countdown(count)
    const ledger = Pipeline.make({
      topic: payments,
      handler: (payment: Topic.RecordOf<typeof payments>) => Effect.zipRight(book(payment), progress.tick()),
      policy: ErrorPolicy.retry(Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(5))))
    })
    yield* Effect.raceFirst(Pipeline.run(ledger), progress.done)
  })

export const program = (count: number) =>
  Effect.gen(function* () {
    yield* createTables
    yield* Runner.createTopics([{ name: payments.name, partitions: 3 }])
    const producer = yield* Producer.Producer
    yield* producer.send(
      payments,
      Array.from({ length: count }, (_, i) => ({
        key: `acct-${i % 5}`,
        value: { account: `acct-${i % 5}`, cents: 100 + i }
      }))
    )
    yield* runLedger(count)
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ rows: string; cents: string }>`
      SELECT count(*) AS rows, coalesce(sum(cents), 0) AS cents FROM ledger WHERE topic = ${payments.name}`
    yield* Effect.log(`${count} payments: ${row!.rows} ledger rows, ${row!.cents} cents booked`)
    return { rows: Number(row!.rows), cents: Number(row!.cents) }
  })

Runner.runMain(
  import.meta.url,
  program(1000).pipe(Effect.provide(Layer.merge(Runner.kafka({ groupId: Runner.named("ledger") }), StoreLive)))
)
