/**
 * `MemoryKafka.layerClient`: the simulated cluster in the one-layer shape of a driver's own
 * layer (`KafkaJs.layer`), so a program's test swaps one layer for the other.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as MemoryKafka from "../src/MemoryKafka.js"
import { keyedPipelineWithDeadLetters } from "../src/TestHelpers.js"

describe("memory: layerClient", () => {
  it.live("one layer runs a keyed pipeline that dead-letters, with the producer it needs", () =>
    Effect.gen(function* () {
      const kafka = yield* MemoryKafka.MemoryKafka
      yield* kafka.createTopic("orders", 2)
      yield* kafka.createTopic("orders.dlq", 1)
      const handled = yield* keyedPipelineWithDeadLetters("orders", "orders.dlq", "10 seconds")
      expect(new Set(handled).size).toBe(19)
      expect((yield* kafka.records("orders.dlq", 0)).length).toBe(1)
      const committed = yield* kafka.committed("billing", "orders")
      const ends = yield* kafka.endOffsets("orders")
      for (const [p, end] of ends) expect(committed.get(p)?.offset).toBe(end)
    }).pipe(Effect.provide(MemoryKafka.layerClient({ groupId: "billing", commitInterval: "20 millis" }, { seed: 5 })))
  )
  it.effect("bad consumer settings fail the layer with a SettingsError", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Layer.build(MemoryKafka.layerClient({ groupId: "billing", commitEvery: 0 })).pipe(Effect.scoped)
      )
      expect(error).toMatchObject({ _tag: "SettingsError", setting: "commitEvery" })
    })
  )
})
