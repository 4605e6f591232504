/**
 * The SQL behind the store (PostgreSQL): the table, the claim (one upsert that raises the
 * generation of every claimed row and returns the positions) and the save, in the caller's
 * transaction: one conditional UPDATE when the row still holds what this owner last wrote,
 * else the row read holding its lock, checked against the claim, advanced and written back.
 *
 * Why the save reads before it writes: in keyed and unordered modes several transactions of
 * one partition are open at once and commit in any order, so each must add its offsets to
 * what the others committed, not overwrite it with what it saw when it began. `FOR UPDATE`
 * makes the read wait for the row's last writer, and the generation it reads is the one the
 * commit will be judged by: a claim in between waits for this transaction, or this one sees
 * the claim and is fenced.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as OffsetStore from "@sluice/core/OffsetStore"
import * as TP from "@sluice/core/TopicPartition"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"

export const ddl = (table: string): string =>
  `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(table)} (
  group_id text NOT NULL,
  topic text NOT NULL,
  partition integer NOT NULL,
  "offset" bigint NOT NULL,
  metadata text NOT NULL DEFAULT '',
  generation bigint NOT NULL,
  PRIMARY KEY (group_id, topic, partition)
)`

/** PostgreSQL's identifier quoting, per part of a schema-qualified name (already checked to be a plain name). */
const quoteIdentifier = (name: string): string =>
  name
    .split(".")
    .map((part) => `"${part}"`)
    .join(".")

interface Row {
  readonly topic: string
  readonly partition: number
  readonly offset: string | number
  readonly metadata: string
  readonly generation: string | number
}

/**
 * `sql.withTransaction`, with a failed COMMIT or ROLLBACK (which `@effect/sql` turns into a
 * defect) a `SqlError` failure again, for the error policy or a retry schedule to handle.
 */
export const inTransaction = <A, E, R>(
  sql: SqlClient.SqlClient,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | SqlError, R> =>
  Effect.catchSomeDefect(sql.withTransaction(effect), (defect) =>
    isSqlError(defect) ? Option.some(Effect.fail(defect)) : Option.none()
  )

const isSqlError = (defect: unknown): defect is SqlError =>
  typeof defect === "object" && defect !== null && (defect as { readonly _tag?: unknown })._tag === "SqlError"

const unavailable = (operation: string) => (cause: SqlError) =>
  OffsetStore.error({ reason: "unavailable", operation, message: cause.message, cause })

const positionOf = (row: Row): OffsetStore.Position | undefined => {
  const offset = Number(row.offset)
  return offset < 0 ? undefined : { offset, metadata: row.metadata }
}

/** The row's columns for a position; a claimed row without one holds offset -1. */
const rowOf = (position: OffsetStore.Position | undefined): OffsetStore.Position =>
  position ?? { offset: -1, metadata: "" }

export const store = (
  sql: SqlClient.SqlClient,
  table: string,
  retry: Schedule.Schedule<unknown, OffsetStore.OffsetStoreError>
): OffsetStore.Service => {
  const t = sql(table)
  /** What each claim's last save wrote (committed or not: a save whose transaction rolled back finds the row different). */
  const lastWritten = new WeakMap<OffsetStore.Claim, OffsetStore.Position>()
  return {
    claim: (groupId, partitions) => {
      if (partitions.length === 0) return Effect.succeed([])
      // One order for every claimer: two members claiming overlapping rows never deadlock.
      const rows = [...partitions].sort(TP.order).map((tp) => ({
        group_id: groupId,
        topic: tp.topic,
        partition: tp.partition,
        offset: -1,
        metadata: "",
        generation: 1
      }))
      const insert = sql<Row>`INSERT INTO ${t} AS stored ${sql.insert(rows)}
        ON CONFLICT (group_id, topic, partition) DO UPDATE SET generation = stored.generation + 1
        RETURNING topic, partition, "offset", metadata, generation`
      // On a connection of its own (a transaction), not a pooled one: a claim is interrupted
      // whenever its member crashes or is revoked mid-assignment, and @effect/sql-pg 0.x cancels
      // an interrupted pooled statement with `pg_cancel_backend(pid)` while the statement's own
      // completion may already have handed the connection to the next user of the pool, whose
      // statement the signal then cancels (Effect-TS/effect#8068). A reserved connection goes
      // back to the pool only after the cancel was sent and the transaction rolled back.
      return inTransaction(sql, insert).pipe(
        Effect.mapError(unavailable("SqlOffsetStore.claim")),
        Effect.retry(retry),
        Effect.map((claimed) =>
          claimed.map(
            (row): OffsetStore.Claim => ({
              groupId,
              topicPartition: TP.make(row.topic, Number(row.partition)),
              generation: Number(row.generation),
              position: positionOf(row)
            })
          )
        ),
        Effect.withSpan("SqlOffsetStore.claim", { attributes: { groupId, partitions: partitions.length } })
      )
    },
    save: (claim, offsets, floor) =>
      Effect.gen(function* () {
        const { topic, partition } = claim.topicPartition
        const where = sql`group_id = ${claim.groupId} AND topic = ${topic} AND partition = ${partition}`
        // The common case, one transaction of the partition at a time: the row still holds what
        // this owner's last save wrote, so one conditional UPDATE does it. Anything else (that
        // transaction rolled back, another one of the partition committed first, a later claim)
        // fails the condition and takes the full path below.
        const expected = lastWritten.get(claim) ?? rowOf(claim.position)
        const known = expected.offset < 0 ? undefined : expected
        if (!OffsetStore.isSaved(known, offsets)) {
          const next = OffsetStore.advance(known, offsets, floor)
          const updated = yield* sql`UPDATE ${t} SET "offset" = ${next.offset}, metadata = ${next.metadata}
            WHERE ${where} AND generation = ${claim.generation} AND "offset" = ${expected.offset}
            AND metadata = ${expected.metadata} RETURNING 1`.pipe(Effect.mapError(unavailable("SqlOffsetStore.save")))
          if (updated.length === 1) {
            lastWritten.set(claim, next)
            return
          }
        }
        const [row] = yield* sql<Row>`SELECT topic, partition, "offset", metadata, generation FROM ${t}
          WHERE ${where} FOR UPDATE`.pipe(Effect.mapError(unavailable("SqlOffsetStore.save")))
        if (row === undefined || Number(row.generation) !== claim.generation) {
          return yield* OffsetStore.error({
            reason: "fenced",
            operation: "SqlOffsetStore.save",
            message: `${TP.format(claim.topicPartition)} of group ${claim.groupId} was claimed by a later owner (generation ${claim.generation}, stored ${row === undefined ? "none" : row.generation})`
          })
        }
        const stored = positionOf(row)
        if (OffsetStore.isSaved(stored, offsets)) {
          return yield* OffsetStore.error({
            reason: "alreadySaved",
            operation: "SqlOffsetStore.save",
            message: `${TP.format(claim.topicPartition)}@${offsets.join(",")} was saved by an earlier transaction`
          })
        }
        const next = OffsetStore.advance(stored, offsets, floor)
        yield* sql`UPDATE ${t} SET "offset" = ${next.offset}, metadata = ${next.metadata} WHERE ${where}`.pipe(
          Effect.mapError(unavailable("SqlOffsetStore.save"))
        )
        lastWritten.set(claim, next)
      }).pipe(Effect.withSpan("SqlOffsetStore.save", { attributes: { offsets: offsets.length } }))
  }
}
