/** Against the PostgreSQL at DATABASE_URL (by default postgres://postgres@127.0.0.1:5432/test). */

import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import * as Admin from "@sluice/core/Admin"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { clicks, createTable, PgLive, program, runSink } from "../src/postgres-sink.js"

describe("batch sink into PostgreSQL", () => {
  it.live("inserts every click once, and a replay of the whole topic inserts nothing again", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* createTable
      yield* sql`DELETE FROM clicks WHERE topic = ${clicks.name}`

      expect(yield* program(1000)).toBe(1000)

      // Replay: the group's offsets go back to the start, as after a crash before any commit.
      const admin = yield* Admin.Admin
      yield* admin.resetOffsets({ groupId: "clicks-sink", topic: clicks.name, to: Admin.earliest })
      expect(yield* runSink(1000)).toBe(0)

      const [row] = yield* sql<{ count: string }>`SELECT count(*) AS count FROM clicks WHERE topic = ${clicks.name}`
      expect(Number(row!.count)).toBe(1000)
    }).pipe(
      Effect.provide(
        Layer.merge(MemoryKafka.layerClient({ groupId: "clicks-sink", commitInterval: "50 millis" }), PgLive)
      )
    )
  )
})
