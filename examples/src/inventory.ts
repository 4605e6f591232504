/**
 * `pnpm exec tsx examples/src/inventory.ts`: the pipeline that `test/inventory.test.ts` puts
 * through crashes, fencing and a rebalance storm on the simulated cluster — how you test your
 * own pipeline against the failures that take minutes to stage on a broker.
 *
 * Stock reservations, keyed by product: a product's reservations apply in order, many
 * products at once (`ProcessingMode.keyed`).
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

const Reservation = Schema.Struct({ id: Schema.Number, product: Schema.String, quantity: Schema.Number })
export const reservations = Topic.make({
  name: Runner.named("reservations"),
  key: Codec.string,
  value: Codec.json(Reservation)
})

/** The application's handler: reserves stock (here, a short call to the warehouse). */
export const reserve = (record: Topic.RecordOf<typeof reservations>) =>
  Effect.asVoid(Effect.sleep(`${1 + (record.value.id % 3)} millis`))

/** The pipeline, around any handler: the test passes the handler wrapped in a probe. */
export const inventory = (handler: (record: Topic.RecordOf<typeof reservations>) => Effect.Effect<void> = reserve) =>
  Pipeline.make({
    topic: reservations,
    handler,
    mode: ProcessingMode.keyed({ concurrency: 8 }),
    policy: ErrorPolicy.retry(Schedule.exponential("50 millis").pipe(Schedule.intersect(Schedule.recurs(3))))
  })

/** Produces `count` reservations of `products` products. */
export const produce = (count: number, products: number) =>
  Effect.flatMap(Producer.Producer, (producer) =>
    producer.send(
      reservations,
      Array.from({ length: count }, (_, id) => {
        const product = `sku-${id % products}`
        return { key: product, value: { id, product, quantity: 1 + (id % 4) } }
      })
    )
  )

export const program = (count: number) =>
  Effect.gen(function* () {
    yield* Runner.createTopics([{ name: reservations.name, partitions: 4 }])
    yield* produce(count, 40)
    const progress = yield* Runner.countdown(count)
    yield* Effect.raceFirst(Pipeline.run(inventory((r) => Effect.zipRight(reserve(r), progress.tick()))), progress.done)
    yield* Effect.log(`reserved stock for ${count} reservations`)
  })

Runner.runMain(
  import.meta.url,
  program(2000).pipe(Effect.provide(Runner.kafka({ groupId: Runner.named("inventory") })))
)
