/**
 * `pnpm exec tsx examples/src/enrichment.ts`: topic → topic exactly once. Each order is enriched
 * with its customer's tier and sent to another topic; `Pipeline.exactlyOnce` commits what the
 * handler sent and the orders' offsets in one Kafka transaction per partition (every 100 orders
 * or 200 ms), so a reader with `read_committed` sees each order's enriched copy exactly once,
 * across crashes, rebalances and restarts. The handler is the same as in an at-least-once
 * pipeline: it sends with the `Producer` service.
 */
import * as Codec from "@sluice/core/Codec"
import * as Pipeline from "@sluice/core/Pipeline"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Runner from "./internal/Runner.js"

const Order = Schema.Struct({ id: Schema.String, customer: Schema.String, amount: Schema.Number })
const Enriched = Schema.Struct({
  id: Schema.String,
  customer: Schema.String,
  amount: Schema.Number,
  tier: Schema.Literal("gold", "silver", "bronze")
})
export const orders = Topic.make({ name: Runner.named("orders"), key: Codec.string, value: Codec.json(Order) })
export const enriched = Topic.make({
  name: Runner.named("orders.enriched"),
  key: Codec.string,
  value: Codec.json(Enriched)
})

/** A stand-in for a lookup (a table, a cache): the customer's tier. */
const tierOf = (customer: string): "gold" | "silver" | "bronze" => {
  const n = Number(customer.slice(2)) % 3
  return n === 0 ? "gold" : n === 1 ? "silver" : "bronze"
}

/** The pipeline; `onEnriched` runs after each order's handler (the example counts them). */
export const enrichment = (onEnriched: Effect.Effect<void> = Effect.void) =>
  Pipeline.make({
    topic: orders,
    handler: (record: Topic.RecordOf<typeof orders>) =>
      Effect.gen(function* () {
        const producer = yield* Producer.Producer
        // Kept for the partition's transaction: written when it commits, with the order's offset.
        yield* producer.send(enriched, [
          { key: record.key ?? "", value: { ...record.value, tier: tierOf(record.value.customer) } }
        ])
        yield* onEnriched
      })
  }).pipe(Pipeline.exactlyOnce({ size: 100, within: "200 millis", transactionalIdPrefix: "enrichment" }))

export const program = (count: number) =>
  Effect.gen(function* () {
    yield* Runner.createTopics([
      { name: orders.name, partitions: 3 },
      { name: enriched.name, partitions: 3 }
    ])
    const producer = yield* Producer.Producer
    yield* producer.send(
      orders,
      Array.from({ length: count }, (_, i) => ({
        key: `c-${i % 11}`,
        value: { id: `o-${i}`, customer: `c-${i % 11}`, amount: i }
      }))
    )
    const progress = yield* Runner.countdown(count)
    // Stopping the pipeline is its graceful shutdown: the last transactions commit before it leaves.
    yield* Effect.raceFirst(Pipeline.run(enrichment(progress.tick())), progress.done)
    yield* Effect.log(`enriched ${count} orders into ${enriched.name}, exactly once`)
  })

Runner.runMain(
  import.meta.url,
  program(300).pipe(Effect.provide(Runner.kafka({ groupId: Runner.named("enrichment") })))
)
