/**
 * The external offset store on `@effect/sql` (G10): a consumer's positions kept in a table of
 * the database its handler writes to, so that a result and the position past its record
 * commit in one transaction, or not at all. A crash, a rebalance or a restart then neither
 * loses nor repeats a result: the next owner starts where the last committed transaction left
 * off, and a former owner that still runs (revoked, lost, paused past its session) is fenced.
 *
 * PostgreSQL (`@effect/sql-pg`) is what it is tested on and what it accepts; another dialect
 * is refused with a `SettingsError` naming `dialect`.
 *
 * The table (created by `migrate`, or by the DDL of `ddl`) holds one row per partition of a
 * group: the frontier (`offset`, the next offset to handle), the offsets finished above it
 * (`metadata`, as the Kafka commit metadata encodes them) and the `generation` of its last
 * claim, the fencing token.
 *
 * @example
 * ```ts
 * import * as PgClient from "@effect/sql-pg/PgClient"
 * import * as SqlClient from "@effect/sql/SqlClient"
 * import * as Pipeline from "@sluice/core/Pipeline"
 * import * as Topic from "@sluice/core/Topic"
 * import * as SqlOffsetStore from "@sluice/sql/SqlOffsetStore"
 * import * as Effect from "effect/Effect"
 * import * as Layer from "effect/Layer"
 * import * as Schema from "effect/Schema"
 *
 * const Payment = Schema.Struct({ id: Schema.String, cents: Schema.Number })
 * const payments = Topic.make({ name: "payments", value: Schema.parseJson(Payment) })
 *
 * const ledger = Pipeline.make({
 *   topic: payments,
 *   // The INSERT and the position past the record commit together.
 *   handler: SqlOffsetStore.transactional((record: Topic.RecordOf<typeof payments>) =>
 *     Effect.flatMap(SqlClient.SqlClient, (sql) =>
 *       sql`INSERT INTO ledger (id, cents) VALUES (${record.value.id}, ${record.value.cents})`
 *     )
 *   )
 * })
 *
 * const StoreLive = SqlOffsetStore.layer().pipe(
 *   Layer.provideMerge(PgClient.layer({ host: "127.0.0.1", database: "test", username: "postgres" }))
 * )
 * const program = Effect.zipRight(SqlOffsetStore.migrate(), Pipeline.run(ledger))
 * ```
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as OffsetStore from "@sluice/core/OffsetStore"
import { SettingsError } from "@sluice/core/SettingsError"
import type * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Statements from "./internal/statements.js"

/**
 * The store's settings.
 *
 * @since 0.1.0
 */
export interface Options {
  /**
   * The table of positions, optionally schema-qualified (`sluice.offsets`): letters, digits
   * and underscores. Default `sluice_offsets`.
   */
  readonly table?: string | undefined
  /**
   * How a claim at assignment is retried while the database cannot be reached, before the
   * consumer stops with `OffsetStoreError` (`unavailable`). Default: exponential from 100 ms,
   * 5 retries. (A save runs in the handler's transaction: the pipeline's error policy retries it.)
   */
  readonly retry?: Schedule.Schedule<unknown, OffsetStore.OffsetStoreError> | undefined
}

/**
 * What `Options` default to.
 *
 * @since 0.1.0
 */
export const defaults = {
  table: "sluice_offsets",
  retry: Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(5)))
} as const

const tableName = (table: string | undefined): Effect.Effect<string, SettingsError> => {
  const name = table ?? defaults.table
  return /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/.test(name)
    ? Effect.succeed(name)
    : Effect.fail(
        new SettingsError({
          setting: "table",
          message: `table must be a table name (letters, digits and underscores, optionally schema.table), got ${JSON.stringify(name)}`
        })
      )
}

const postgresOnly = (sql: SqlClient.SqlClient): Effect.Effect<void, SettingsError> =>
  sql.onDialectOrElse({
    pg: () => Effect.void,
    orElse: () =>
      Effect.fail(
        new SettingsError({
          setting: "dialect",
          message: "the SQL offset store supports PostgreSQL (@effect/sql-pg); this SqlClient speaks another dialect"
        })
      )
  })

/**
 * The DDL of the table of positions (PostgreSQL), for a migration tool of your own.
 *
 * @since 0.1.0
 */
export const ddl = (table: string = defaults.table): string => Statements.ddl(table)

/**
 * Creates the table of positions when it does not exist.
 *
 * @since 0.1.0
 */
export const migrate = (
  options: Pick<Options, "table"> = {}
): Effect.Effect<void, SqlError | SettingsError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const table = yield* tableName(options.table)
    const sql = yield* SqlClient.SqlClient
    yield* postgresOnly(sql)
    yield* sql.unsafe(Statements.ddl(table))
  }).pipe(Effect.withSpan("SqlOffsetStore.migrate"))

/**
 * Builds the store on the `SqlClient` in context.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<OffsetStore.Service, SettingsError, SqlClient.SqlClient> =>
  Effect.gen(function* () {
    const table = yield* tableName(options.table)
    const sql = yield* SqlClient.SqlClient
    yield* postgresOnly(sql)
    const retry = options.retry ?? defaults.retry
    return Statements.store(sql, table, retry)
  })

/**
 * The store as the `OffsetStore` service: provide it to the consumer's run (with the
 * `SqlClient` its handler writes through) to keep the positions in the database.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<OffsetStore.OffsetStore, SettingsError, SqlClient.SqlClient> =>
  Layer.effect(OffsetStore.OffsetStore, make(options))

/**
 * Wraps a handler (of a record, or of a chunk of one partition's records) in one database
 * transaction that also saves the position past its records: the handler's writes and the
 * position commit together. A failure anywhere rolls both back, and the record stays
 * unfinished for the error policy; a save refused because another owner claimed the partition
 * fails with `OffsetStoreError` (`fenced`).
 *
 * `@effect/sql` turns a failed COMMIT or ROLLBACK into a defect; here it is a `SqlError`
 * failure, so the error policy retries it. A COMMIT whose answer was lost may have committed:
 * the retry then finds its records saved (`alreadySaved`), rolls back its own writes and
 * succeeds, so the record is written once.
 *
 * @since 0.1.0
 */
export const transactional =
  <In extends OffsetStore.RecordOffset | Chunk.Chunk<OffsetStore.RecordOffset>, E, R>(
    handler: (input: In) => Effect.Effect<unknown, E, R>
  ) =>
  (
    input: In
  ): Effect.Effect<
    void,
    E | SqlError | OffsetStore.OffsetStoreError,
    R | SqlClient.SqlClient | OffsetStore.OffsetStore
  > =>
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Statements.inTransaction(
        sql,
        // A chunk is an iterable of records: `save` takes either.
        Effect.zipRight(
          handler(input),
          OffsetStore.save(input as OffsetStore.RecordOffset | Iterable<OffsetStore.RecordOffset>)
        )
      )
    ).pipe(
      Effect.catchIf(
        (error): error is OffsetStore.OffsetStoreError =>
          error instanceof OffsetStore.OffsetStoreError && error.reason === "alreadySaved",
        () => Effect.void
      ),
      Effect.withSpan("SqlOffsetStore.transactional")
    )
