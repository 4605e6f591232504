/**
 * An in-memory database with an `OffsetStore` in it, for tests on the simulated cluster: rows
 * written by a handler and the position it saves commit together in one `transaction`, or
 * not at all, as they would in PostgreSQL with `@sluice/sql`. A claim raises a partition's
 * generation; a transaction whose save was made under an older one is refused (`fenced`) at
 * its commit. `setAvailable(false)` makes every operation fail `unavailable`, as a database
 * that cannot be reached.
 *
 * @example
 * ```ts
 * import * as OffsetStore from "@sluice/core/OffsetStore"
 * import type { ConsumerRecord } from "@sluice/core/ConsumerRecord"
 * import * as MemoryOffsetStore from "@sluice/testkit/MemoryOffsetStore"
 * import * as Effect from "effect/Effect"
 *
 * const handler = (record: ConsumerRecord) =>
 *   Effect.flatMap(MemoryOffsetStore.MemoryDatabase, (db) =>
 *     db.transaction(Effect.zipRight(db.insert("payments", record.offset), OffsetStore.save(record)))
 *   )
 * ```
 *
 * @since 0.3.0
 */
import * as OffsetStore from "@sluice/core/OffsetStore"
import * as TP from "@sluice/core/TopicPartition"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

/**
 * A stored position with the generation of its last claim.
 *
 * @since 0.3.0
 */
export interface StoredPosition {
  readonly position: OffsetStore.Position | undefined
  readonly generation: number
}

/**
 * The database.
 *
 * @since 0.3.0
 */
export interface Database {
  /**
   * Runs `effect` as one transaction: its `insert`s and saved positions commit together
   * when it succeeds (and no later claim fenced its saves), and are dropped otherwise.
   */
  readonly transaction: <A, E, R>(
    effect: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | OffsetStore.OffsetStoreError, R>
  /** Adds a row to `table` in the current transaction (at once outside one). */
  readonly insert: (table: string, row: unknown) => Effect.Effect<void, OffsetStore.OffsetStoreError>
  /** The committed rows of `table`, in commit order. */
  readonly rows: (table: string) => Effect.Effect<ReadonlyArray<unknown>>
  /** The stored position of a partition of `groupId`. */
  readonly position: (groupId: string, tp: TP.TopicPartition) => Effect.Effect<StoredPosition | undefined>
  /** Makes the database reachable or not: unreachable, every operation fails `unavailable`. */
  readonly setAvailable: (available: boolean) => Effect.Effect<void>
  /** Transactions committed, and refused because a later claim fenced them. */
  readonly stats: Effect.Effect<{ readonly committed: number; readonly fenced: number }>
}

/**
 * The in-memory database.
 *
 * @since 0.3.0
 */
export class MemoryDatabase extends Context.Tag("@sluice/testkit/MemoryDatabase")<MemoryDatabase, Database>() {}

interface Save {
  readonly claim: OffsetStore.Claim
  readonly offsets: ReadonlyArray<number>
  readonly floor: number
}

interface Transaction {
  readonly inserts: Array<readonly [string, unknown]>
  readonly saves: Array<Save>
}

const positionKey = (groupId: string, tp: TP.TopicPartition): string => `${groupId}|${TP.key(tp)}`

/**
 * Builds a database and its store.
 *
 * @since 0.3.0
 */
export const make: Effect.Effect<{ readonly database: Database; readonly store: OffsetStore.Service }> = Effect.sync(
  () => {
    const tables = new Map<string, Array<unknown>>()
    const positions = new Map<string, StoredPosition>()
    const current = FiberRef.unsafeMake<Option.Option<Transaction>>(Option.none())
    let available = true
    let committed = 0
    let fenced = 0

    const unavailable = (operation: string) =>
      OffsetStore.error({ reason: "unavailable", operation, message: "the database cannot be reached" })
    const fencedError = (operation: string, claim: OffsetStore.Claim) =>
      OffsetStore.error({
        reason: "fenced",
        operation,
        message: `${TP.format(claim.topicPartition)} was claimed by a later owner (generation ${claim.generation} is stale)`
      })

    /** Applies a transaction in one step: nothing else runs between its check and its writes. */
    const commit = (tx: Transaction): Effect.Effect<void, OffsetStore.OffsetStoreError> =>
      Effect.suspend(() => {
        if (!available) return Effect.fail(unavailable("MemoryDatabase.commit"))
        for (const save of tx.saves) {
          const stored = positions.get(positionKey(save.claim.groupId, save.claim.topicPartition))
          if (stored?.generation !== save.claim.generation) {
            fenced++
            return Effect.fail(fencedError("MemoryDatabase.commit", save.claim))
          }
        }
        for (const [table, row] of tx.inserts) {
          const rows = tables.get(table) ?? []
          rows.push(row)
          tables.set(table, rows)
        }
        for (const save of tx.saves) {
          const key = positionKey(save.claim.groupId, save.claim.topicPartition)
          const stored = positions.get(key)!
          positions.set(key, {
            generation: stored.generation,
            position: OffsetStore.advance(stored.position, save.offsets, save.floor)
          })
        }
        committed++
        return Effect.void
      })

    const inTransaction = (
      operation: string,
      change: (tx: Transaction) => void
    ): Effect.Effect<void, OffsetStore.OffsetStoreError> =>
      Effect.flatMap(FiberRef.get(current), (tx) => {
        if (!available) return Effect.fail(unavailable(operation))
        if (Option.isSome(tx)) return Effect.sync(() => change(tx.value))
        const alone: Transaction = { inserts: [], saves: [] }
        change(alone)
        return commit(alone)
      })

    const database: Database = {
      transaction: (effect) =>
        Effect.suspend(() => {
          if (!available) return Effect.fail(unavailable("MemoryDatabase.transaction"))
          const tx: Transaction = { inserts: [], saves: [] }
          return Effect.locally(effect, current, Option.some(tx)).pipe(Effect.flatMap((a) => Effect.as(commit(tx), a)))
        }),
      insert: (table, row) => inTransaction("MemoryDatabase.insert", (tx) => void tx.inserts.push([table, row])),
      rows: (table) => Effect.sync(() => [...(tables.get(table) ?? [])]),
      position: (groupId, tp) => Effect.sync(() => positions.get(positionKey(groupId, tp))),
      setAvailable: (value) =>
        Effect.sync(() => {
          available = value
        }),
      stats: Effect.sync(() => ({ committed, fenced }))
    }

    const store: OffsetStore.Service = {
      claim: (groupId, partitions) =>
        Effect.suspend(() => {
          if (!available) return Effect.fail(unavailable("MemoryOffsetStore.claim"))
          return Effect.succeed(
            partitions.map((tp): OffsetStore.Claim => {
              const key = positionKey(groupId, tp)
              const stored = positions.get(key)
              const next: StoredPosition = { position: stored?.position, generation: (stored?.generation ?? 0) + 1 }
              positions.set(key, next)
              return { groupId, topicPartition: tp, generation: next.generation, position: next.position }
            })
          )
        }),
      save: (claim, offsets, floor) =>
        Effect.suspend(() => {
          const stored = positions.get(positionKey(claim.groupId, claim.topicPartition))
          if (available && stored?.generation !== claim.generation) {
            fenced++
            return Effect.fail(fencedError("MemoryOffsetStore.save", claim))
          }
          return inTransaction("MemoryOffsetStore.save", (tx) => void tx.saves.push({ claim, offsets, floor }))
        })
    }
    return { database, store }
  }
)

/**
 * The database and its `OffsetStore`.
 *
 * @since 0.3.0
 */
export const layer: Layer.Layer<MemoryDatabase | OffsetStore.OffsetStore> = Layer.effectContext(
  Effect.map(make, ({ database, store }) =>
    Context.make(MemoryDatabase, database).pipe(Context.add(OffsetStore.OffsetStore, store))
  )
)
