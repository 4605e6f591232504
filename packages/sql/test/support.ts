/**
 * What the store's tests share: PostgreSQL from `DATABASE_URL` (by default the project's
 * postgres://postgres@127.0.0.1:5432/test), unique table names, a row table with no key (so a
 * duplicate shows), and a TCP proxy in front of PostgreSQL that a test can cut, as a database
 * that becomes unreachable.
 */
import * as net from "node:net"
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"

export const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"

export const PgLive = PgClient.layer({ url: Redacted.make(databaseUrl) })

/** A table and topic name unique to this run. */
export const unique = (prefix: string): string => `${prefix}_${process.pid}_${Date.now().toString(36)}`

/** A table of rows `(topic, partition, offset)` without a key: every insert stays, duplicates too. */
export const createRows = (table: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (topic text NOT NULL, partition integer NOT NULL, "offset" bigint NOT NULL)`
  )

/** Rows missing and repeated among the `count` records spread round-robin over `partitions`. */
export const tally = (table: string, topic: string, count: number, partitions: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ partition: number; offset: string; n: string }>`
      SELECT partition, "offset", count(*) AS n FROM ${sql(table)} WHERE topic = ${topic} GROUP BY partition, "offset"`
    const seen = new Map(rows.map((r) => [`${r.partition}:${r.offset}`, Number(r.n)]))
    let lost = 0
    let duplicates = 0
    for (let i = 0; i < count; i++) {
      const n = seen.get(`${i % partitions}:${Math.floor(i / partitions)}`) ?? 0
      if (n === 0) lost++
      else duplicates += n - 1
    }
    return { rows: rows.reduce((a, r) => a + Number(r.n), 0), lost, duplicates }
  })

/** A TCP proxy to PostgreSQL: `cut` drops every connection and refuses new ones until `restore`. */
export const proxy = (target: URL) =>
  Effect.acquireRelease(
    Effect.async<{ port: number; cut: () => void; restore: () => void; close: () => void }>((resume) => {
      const sockets = new Set<net.Socket>()
      let open = true
      const server = net.createServer((client) => {
        if (!open) return client.destroy()
        const upstream = net.connect(Number(target.port || 5432), target.hostname)
        sockets.add(client).add(upstream)
        const drop = () => {
          client.destroy()
          upstream.destroy()
          sockets.delete(client)
          sockets.delete(upstream)
        }
        client.on("error", drop).on("close", drop)
        upstream.on("error", drop).on("close", drop)
        client.pipe(upstream).pipe(client)
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as net.AddressInfo).port
        resume(
          Effect.succeed({
            port,
            cut: () => {
              open = false
              for (const s of sockets) s.destroy()
              sockets.clear()
            },
            restore: () => {
              open = true
            },
            close: () => {
              for (const s of sockets) s.destroy()
              server.close()
            }
          })
        )
      })
    }),
    (p) => Effect.sync(() => p.close())
  )
