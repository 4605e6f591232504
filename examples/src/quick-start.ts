/**
 * `pnpm exec tsx examples/src/quick-start.ts`: the README's quick start. A typed topic, a handler, a pipeline
 * with a retry-then-dead-letter policy, and one layer for everything Kafka (here kafkajs on
 * `KAFKA_BROKERS`, else the simulated cluster; in your program `KafkaJs.layerConfig()`).
 */
import * as Codec from "@sluice/core/Codec"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import * as Pipeline from "@sluice/core/Pipeline"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Runner from "./internal/Runner.js"

const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })
export const orders = Topic.make({ name: Runner.named("orders"), key: Codec.string, value: Codec.json(Order) })

/** Builds the pipeline around a `charge` handler: Topic.RecordOf names its record type. */
export const billing = (charge: (record: Topic.RecordOf<typeof orders>) => Effect.Effect<void>) =>
  Pipeline.make({
    topic: orders,
    handler: charge,
    // Up to 16 orders of a partition at once, one at a time per key (customer).
    mode: ProcessingMode.keyed({ concurrency: 16 }),
    policy: ErrorPolicy.retry(
      Schedule.exponential("100 millis").pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(5))),
      ErrorPolicy.deadLetter(`${orders.name}.dlq`)
    )
  })

/** Produces `count` orders, charges them all, stops; returns the total charged. */
export const program = (count: number) =>
  Effect.gen(function* () {
    yield* Runner.createTopics([{ name: orders.name, partitions: 4 }])
    const producer = yield* Producer.Producer
    yield* producer.send(
      orders,
      Array.from({ length: count }, (_, i) => ({ key: `customer-${i % 7}`, value: { id: `o-${i}`, amount: i } }))
    )
    let total = 0
    const progress = yield* Runner.countdown(count)
    const charge = (record: Topic.RecordOf<typeof orders>) =>
      Effect.suspend(() => {
        total += record.value.amount
        return progress.tick()
      })
    // Pipeline.run goes on until interrupted; here it stops once every order was charged.
    yield* Effect.raceFirst(Pipeline.run(billing(charge)), progress.done)
    yield* Effect.log(`charged ${count} orders, ${total} in total`)
    return total
  })

Runner.runMain(import.meta.url, program(100).pipe(Effect.provide(Runner.kafka({ groupId: Runner.named("billing") }))))
