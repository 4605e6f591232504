import { describe, expect, it } from "@effect/vitest"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import * as Effect from "effect/Effect"
import { orders, program } from "../src/quick-start.js"

describe("quick start", () => {
  it.live("charges every order once, on the simulated cluster", () =>
    Effect.gen(function* () {
      const total = yield* program(100)
      expect(total).toBe((99 * 100) / 2)
      const kafka = yield* MemoryKafka.MemoryKafka
      const committed = yield* kafka.committed("billing", orders.name)
      expect([...committed.values()].reduce((sum, c) => sum + c.offset, 0)).toBe(100)
    }).pipe(Effect.provide(MemoryKafka.layerClient({ groupId: "billing", commitInterval: "50 millis" })))
  )
})
