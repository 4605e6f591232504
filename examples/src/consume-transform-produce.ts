/**
 * `pnpm exec tsx examples/src/consume-transform-produce.ts`: consume, transform, produce. The
 * handler turns each order into an invoice and sends it to another topic with the `Producer`
 * service; the order counts as handled (and its offset as committable) only once the broker
 * acknowledged the invoice. After a crash an order may be invoiced twice, never zero times:
 * the invoice carries the order's id so that its consumers can drop a repeat.
 */
import * as Codec from "@sluice/core/Codec"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import * as Pipeline from "@sluice/core/Pipeline"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Runner from "./internal/Runner.js"

const Order = Schema.Struct({ id: Schema.String, customer: Schema.String, net: Schema.Number })
const Invoice = Schema.Struct({ order: Schema.String, customer: Schema.String, net: Schema.Number, vat: Schema.Number })
export const orders = Topic.make({ name: Runner.named("orders"), key: Codec.string, value: Codec.json(Order) })
export const invoices = Topic.make({ name: Runner.named("invoices"), key: Codec.string, value: Codec.json(Invoice) })

const invoice = (record: Topic.RecordOf<typeof orders>) =>
  Effect.gen(function* () {
    const { id, customer, net } = record.value
    const producer = yield* Producer.Producer
    // Keyed by customer, as the order was: a customer's invoices stay in order on one partition.
    yield* producer.send(invoices, [
      { key: customer, value: { order: id, customer, net, vat: Math.round(net * 20) / 100 } }
    ])
  })

/** The pipeline; `onInvoiced` runs after each acknowledged invoice (the example counts them). */
export const invoicing = (onInvoiced: Effect.Effect<void> = Effect.void) =>
  Pipeline.make({
    topic: orders,
    handler: (record: Topic.RecordOf<typeof orders>) => Effect.zipRight(invoice(record), onInvoiced),
    // A send that fails (the broker is away) is retried; the order is not committed meanwhile.
    policy: ErrorPolicy.retry(Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(10))))
  })

export const program = (count: number) =>
  Effect.gen(function* () {
    yield* Runner.createTopics([
      { name: orders.name, partitions: 3 },
      { name: invoices.name, partitions: 3 }
    ])
    const producer = yield* Producer.Producer
    yield* producer.send(
      orders,
      Array.from({ length: count }, (_, i) => ({
        key: `c-${i % 13}`,
        value: { id: `o-${i}`, customer: `c-${i % 13}`, net: i }
      }))
    )
    const progress = yield* Runner.countdown(count)
    yield* Effect.raceFirst(Pipeline.run(invoicing(progress.tick())), progress.done)
    yield* Effect.log(`invoiced ${count} orders to ${invoices.name}`)
  })

Runner.runMain(import.meta.url, program(300).pipe(Effect.provide(Runner.kafka({ groupId: Runner.named("invoicing") }))))
