import { describe, expect, it } from "@effect/vitest"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import * as Effect from "effect/Effect"
import { program } from "../src/keyed.js"

describe("keyed processing", () => {
  it.live("applies each account's movements in order, many accounts at once", () =>
    Effect.gen(function* () {
      const ledger = yield* program(50, 20)
      expect(ledger.outOfOrder).toEqual([])
      expect([...ledger.balances.values()]).toEqual(Array.from({ length: 50 }, () => 20))
      expect(ledger.maxRunning).toBeGreaterThan(2) // keys side by side within a partition
    }).pipe(Effect.provide(MemoryKafka.layerClient({ groupId: "ledger" })))
  )
})
