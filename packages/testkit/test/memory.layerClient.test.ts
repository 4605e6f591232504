/**
 * `MemoryKafka.layerClient`: the simulated cluster in the one-layer shape of a driver's own
 * layer (`KafkaJs.layer`), so a program's test swaps one layer for the other.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Codec from "@sluice/core/Codec"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import * as Pipeline from "@sluice/core/Pipeline"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as MemoryKafka from "../src/MemoryKafka.js"
import { eventually } from "../src/TestHelpers.js"

const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })
const orders = Topic.make({ name: "orders", key: Codec.string, value: Codec.json(Order) })

describe("memory: layerClient", () => {
  it.live("one layer runs a keyed pipeline that dead-letters, with the producer it needs", () =>
    Effect.gen(function* () {
      const kafka = yield* MemoryKafka.MemoryKafka
      yield* kafka.createTopic("orders", 2)
      yield* kafka.createTopic("orders.dlq", 1)
      const producer = yield* Producer.Producer
      yield* producer.send(
        orders,
        Array.from({ length: 20 }, (_, i) => ({ key: `k${i % 5}`, value: { id: `o${i}`, amount: i } }))
      )
      const handled: Array<string> = []
      const pipeline = Pipeline.make({
        topic: orders,
        mode: ProcessingMode.keyed({ concurrency: 4 }),
        handler: (record: Topic.RecordOf<typeof orders>) =>
          record.value.amount === 7
            ? Effect.fail("declined" as const)
            : Effect.sync(() => handled.push(record.value.id)),
        policy: ErrorPolicy.deadLetter("orders.dlq")
      })
      const fiber = yield* Effect.fork(Pipeline.run(pipeline))
      yield* eventually(() => handled.length === 19, "the 19 good orders", "10 seconds")
      yield* Fiber.interrupt(fiber)
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
