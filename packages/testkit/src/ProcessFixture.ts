/**
 * The consumer a process test runs in a process of its own (see `ProcessHarness`): a fixture
 * script provides its driver and runs `consumerProgram` under `NodeRuntime.runMain`, so that
 * SIGTERM interrupts it (graceful shutdown) and SIGKILL kills it anywhere. This module imports
 * no test runner: it runs outside one.
 *
 * @example
 * ```ts
 * import * as ProcessFixture from "@sluice/testkit/ProcessFixture"
 * import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
 * import * as Effect from "effect/Effect"
 *
 * const main = ProcessFixture.consumerProgram.pipe(
 *   Effect.provide(ProcessFixture.consumerLayer()),
 *   Effect.provide(MemoryKafka.layer({ seed: 1 }))
 * )
 * ```
 *
 * @since 0.2.0
 */
import { appendFileSync } from "node:fs"
import * as Codec from "@sluice/core/Codec"
import * as Consumer from "@sluice/core/Consumer"
import type { ConsumerDriver } from "@sluice/core/ConsumerDriver"
import type * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as Pipeline from "@sluice/core/Pipeline"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import type { TransactionalProducerDriver } from "@sluice/core/TransactionalProducerDriver"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined || value === "") throw new Error(`${name} is required`)
  return value
}

/**
 * The settings of a fixture's consumer: the group from `SLUICE_GROUP`, commits every 300 ms
 * or 200 records, a 3 s session, a 10 s shutdown deadline; `overrides` win.
 *
 * @since 0.2.0
 */
export const consumerLayer = (
  overrides: Partial<ConsumerSettings.Input> = {}
): Layer.Layer<Consumer.Consumer, ConsumerSettings.SettingsError, ConsumerDriver> =>
  Consumer.layer({
    groupId: env("SLUICE_GROUP"),
    commitInterval: "300 millis",
    commitEvery: 200,
    sessionTimeout: "3 seconds",
    heartbeatInterval: "500 millis",
    shutdownTimeout: "10 seconds",
    ...overrides
  })

/**
 * A fixture's consumer: runs `SLUICE_TOPIC` in `SLUICE_MODE` (`partition`, `keyed` or
 * `unordered`, 16 at a time), each handler sleeping `SLUICE_HANDLER_MS` and then appending
 * `partition:offset` to `SLUICE_OUT`; the handler of the record `SLUICE_STUCK`
 * (`partition:offset`) never ends. Prints `sluice-ready` once it runs and `sluice-event <tag>`
 * for every consumer event, so that the parent knows when it can stop it gracefully and when it
 * was assigned.
 *
 * @since 0.2.0
 */
export const consumerProgram: Effect.Effect<void, unknown, Consumer.Consumer> = Effect.gen(function* () {
  const out = env("SLUICE_OUT")
  const handlerMillis = Number(process.env.SLUICE_HANDLER_MS ?? "1")
  const stuck = process.env.SLUICE_STUCK
  const mode =
    process.env.SLUICE_MODE === "keyed"
      ? ProcessingMode.keyed({ concurrency: 16 })
      : process.env.SLUICE_MODE === "unordered"
        ? ProcessingMode.unordered({ concurrency: 16 })
        : ProcessingMode.partition
  const consumer = yield* Consumer.Consumer
  yield* Effect.forkDaemon(
    Stream.runForEach(consumer.events, (event) => Effect.sync(() => console.log(`sluice-event ${event._tag}`)))
  )
  yield* Effect.yieldNow()
  // Under runMain from here on: SIGTERM interrupts the program (a graceful stop).
  console.log("sluice-ready")
  return yield* consumer.run({
    topics: [env("SLUICE_TOPIC")],
    mode,
    handler: (record) =>
      (stuck === `${record.partition}:${record.offset}` ? Effect.never : Effect.sleep(handlerMillis)).pipe(
        Effect.zipRight(Effect.sync(() => appendFileSync(out, `${record.partition}:${record.offset}\n`)))
      )
  })
})

/**
 * A fixture's exactly-once consumer (G10 process tests, `TransactionalProcess`): an
 * exactly-once pipeline from `SLUICE_TOPIC` to `SLUICE_OUT_TOPIC`, one output per input valued
 * `partition:offset:SLUICE_NAME`, transactions of `SLUICE_TXN_SIZE` records (200) or 100 ms,
 * each handler sleeping `SLUICE_HANDLER_MS`. Prints `sluice-ready` once it runs and
 * `sluice-event <tag>` for every consumer event.
 *
 * @since 0.3.0
 */
export const transactionalProgram: Effect.Effect<void, unknown, Consumer.Consumer | TransactionalProducerDriver> =
  Effect.gen(function* () {
    const input = Topic.make({ name: env("SLUICE_TOPIC"), key: Codec.string, value: Codec.string })
    const output = Topic.make({ name: env("SLUICE_OUT_TOPIC"), key: Codec.string, value: Codec.string })
    const name = process.env.SLUICE_NAME ?? "member"
    const handlerMillis = Number(process.env.SLUICE_HANDLER_MS ?? "1")
    const pipeline = Pipeline.make({
      topic: input,
      handler: (record: Topic.RecordOf<typeof input>) =>
        Effect.zipRight(
          Effect.sleep(handlerMillis),
          Effect.flatMap(Producer.Producer, (producer) =>
            producer.send(output, [{ key: record.key ?? "", value: `${record.partition}:${record.offset}:${name}` }])
          )
        )
    }).pipe(Pipeline.exactlyOnce({ size: Number(process.env.SLUICE_TXN_SIZE ?? "200"), within: "100 millis" }))
    const consumer = yield* Consumer.Consumer
    yield* Effect.forkDaemon(
      Stream.runForEach(consumer.events, (event) => Effect.sync(() => console.log(`sluice-event ${event._tag}`)))
    )
    yield* Effect.yieldNow()
    // Under runMain from here on: SIGTERM interrupts the program (a graceful stop).
    console.log("sluice-ready")
    return yield* Pipeline.run(pipeline)
  })

/**
 * The client settings of an exactly-once fixture, in the names every driver's one layer takes
 * (`KafkaJs.layer`, `Confluent.layer`): brokers from `KAFKA_BROKERS`, the group from
 * `SLUICE_GROUP`, a 3 s session, a 10 s shutdown deadline.
 *
 * @since 0.3.0
 */
export const transactionalOptions = () => ({
  brokers: env("KAFKA_BROKERS").split(","),
  groupId: env("SLUICE_GROUP"),
  clientId: `sluice-eos-${process.env.SLUICE_NAME ?? "member"}`,
  sessionTimeout: "3 seconds" as const,
  heartbeatInterval: "500 millis" as const,
  shutdownTimeout: "10 seconds" as const,
  logLevel: "error" as const
})
