/** Against the PostgreSQL at DATABASE_URL (by default postgres://postgres@127.0.0.1:5432/test). */

import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import * as Admin from "@sluice/core/Admin"
import * as Producer from "@sluice/core/Producer"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createTables, payments, program, runLedger, StoreLive } from "../src/ledger.js"

describe("ledger: payments into PostgreSQL, exactly once", () => {
  it.live(
    "G10 books every payment once; with the group's Kafka offsets reset to the start, a restart books nothing again",
    () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* createTables
        yield* sql`DELETE FROM ledger WHERE topic = ${payments.name}`
        yield* sql`DELETE FROM ledger_positions WHERE topic = ${payments.name}`
        const expectedCents = Array.from({ length: 300 }, (_, i) => 100 + i).reduce((a, b) => a + b, 0)
        expect(yield* program(300)).toEqual({ rows: 300, cents: expectedCents })

        // The Kafka commit is advisory: even with the group's offsets back at the start, the
        // consumer starts where the ledger's positions say, and books nothing twice. Two more
        // payments arrive: only they are booked.
        const admin = yield* Admin.Admin
        yield* admin.resetOffsets({ groupId: "ledger", topic: payments.name, to: Admin.earliest })
        const producer = yield* Producer.Producer
        yield* producer.send(payments, [
          { key: "a", value: { account: "a", cents: 1 }, partition: 0 },
          { key: "b", value: { account: "b", cents: 2 }, partition: 1 }
        ])
        yield* runLedger(2)
        const [row] = yield* sql<{ rows: string; cents: string }>`
          SELECT count(*) AS rows, sum(cents) AS cents FROM ledger WHERE topic = ${payments.name}`
        expect({ rows: Number(row!.rows), cents: Number(row!.cents) }).toEqual({ rows: 302, cents: expectedCents + 3 })
      }).pipe(
        Effect.provide(
          Layer.merge(MemoryKafka.layerClient({ groupId: "ledger", commitInterval: "50 millis" }), StoreLive)
        )
      ),
    60_000
  )
})
