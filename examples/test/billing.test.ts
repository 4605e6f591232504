/**
 * How a user tests their own pipeline against failures, without a broker: "my handler fails on
 * every 100th record and a rebalance happens mid-batch: nothing is lost".
 */
import { describe, expect, it } from "@effect/vitest"
import * as Codec from "@sluice/core/Codec"
import * as Consumer from "@sluice/core/Consumer"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import * as Pipeline from "@sluice/core/Pipeline"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"

// The application's own code: a typed topic and a billing handler.
const Order = Schema.Struct({ id: Schema.Number, amount: Schema.Number })
const orders = Topic.make({ name: "orders", key: Codec.string, value: Codec.json(Order) })
class GatewayDown extends Schema.TaggedError<GatewayDown>()("GatewayDown", { order: Schema.Number }) {}

const billed = new Map<number, number>()
const attempts = new Map<number, number>()
const bill = (record: Topic.RecordOf<typeof orders>) =>
  Effect.suspend(() => {
    const n = (attempts.get(record.value.id) ?? 0) + 1
    attempts.set(record.value.id, n)
    // The payment gateway is down for the first attempt at every 100th order.
    if (record.value.id % 100 === 0 && n === 1) return Effect.fail(new GatewayDown({ order: record.value.id }))
    billed.set(record.value.id, (billed.get(record.value.id) ?? 0) + 1)
    return Effect.sleep("1 millis")
  })

const billing = Pipeline.make({
  topic: orders,
  handler: bill,
  policy: ErrorPolicy.retry(
    Schedule.exponential("10 millis").pipe(Schedule.intersect(Schedule.recurs(3))),
    ErrorPolicy.deadLetter("orders.dlq")
  )
})

describe("billing on the simulated cluster", () => {
  it.scopedLive("every 100th order fails once and a rebalance happens mid-batch: nothing is lost", () =>
    Effect.gen(function* () {
      const kafka = yield* MemoryKafka.MemoryKafka
      yield* kafka.createTopic("orders", 4)
      const encoder = new TextEncoder()
      yield* kafka.produce(
        Array.from({ length: 2000 }, (_, id) => ({
          topic: "orders",
          key: encoder.encode(`customer-${id % 37}`),
          value: encoder.encode(JSON.stringify({ id, amount: id % 90 }))
        }))
      )
      const member = (name: string) =>
        Effect.forkDaemon(
          Pipeline.run(billing).pipe(
            Effect.provide(Consumer.layer({ groupId: "billing", clientId: name, commitInterval: "50 millis" }))
          )
        )
      const first = yield* member("first")
      while (billed.size < 500) yield* Effect.sleep("5 millis")
      // A second instance joins while the first is mid-batch: an eager rebalance.
      const second = yield* member("second")
      yield* kafka.awaitStable("billing")
      while (billed.size < 2000) yield* Effect.sleep("5 millis")
      yield* Fiber.interrupt(second)
      yield* Fiber.interrupt(first)

      expect(billed.size).toBe(2000) // nothing lost
      expect([...billed.values()].every((n) => n === 1)).toBe(true) // drained revocations: no repeats
      expect(attempts.get(100)).toBe(2) // failed once, retried once
      const committed = yield* kafka.committed("billing", "orders")
      expect([...committed.values()].reduce((sum, c) => sum + c.offset, 0)).toBe(2000)
      expect(yield* kafka.endOffsets("orders.dlq").pipe(Effect.orElseSucceed(() => new Map()))).toEqual(new Map())
      // Both instances owned partitions at some point: the rebalance did happen.
      const owners = new Set((yield* kafka.ownershipHistory("billing")).map((o) => o.memberId))
      expect(owners.size).toBe(2)
    }).pipe(Effect.provide(Producer.layer.pipe(Layer.provideMerge(MemoryKafka.layer({ seed: 3 })))))
  )
})
