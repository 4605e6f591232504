/**
 * `KafkaJs.layerConfig` on a real broker: one layer from `KAFKA_*` runs a keyed pipeline
 * that dead-letters, and a consumer with a mode of concurrency 0 fails within a second.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Codec from "@sluice/core/Codec"
import * as ErrorPolicy from "@sluice/core/ErrorPolicy"
import * as Pipeline from "@sluice/core/Pipeline"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { eventually, uniqueName } from "@sluice/testkit/TestHelpers"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as KafkaJs from "../src/KafkaJs.js"
import { committed, createTopic } from "./support.js"

const broker = await brokerForTests()

const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })

const fromEnv = (vars: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(vars)), { pathDelim: "_" }))

describe.skipIf(broker === undefined)("KafkaJs.layerConfig on a real broker", () => {
  const brokers = broker?.brokers ?? []

  it.scopedLive(
    "one layer from KAFKA_* runs a keyed pipeline that dead-letters, with the producer it needs",
    () =>
      Effect.gen(function* () {
        const name = uniqueName("sluice-one-layer")
        const groupId = uniqueName("sluice-one-layer-group")
        yield* createTopic(brokers, name, 2)
        yield* createTopic(brokers, `${name}.dlq`, 1)
        const orders = Topic.make({ name, key: Codec.string, value: Codec.json(Order) })
        const handled: Array<string> = []
        const pipeline = Pipeline.make({
          topic: orders,
          mode: ProcessingMode.keyed({ concurrency: 4 }),
          handler: (record: Topic.RecordOf<typeof orders>) =>
            record.value.amount === 7
              ? Effect.fail("declined" as const)
              : Effect.sync(() => handled.push(record.value.id)),
          policy: ErrorPolicy.deadLetter(`${name}.dlq`)
        })
        const program = Effect.gen(function* () {
          const producer = yield* Producer.Producer
          yield* producer.send(
            orders,
            Array.from({ length: 20 }, (_, i) => ({ key: `k${i % 5}`, value: { id: `o${i}`, amount: i } }))
          )
          const fiber = yield* Effect.fork(Pipeline.run(pipeline))
          yield* eventually(() => handled.length === 19, "the 19 good orders")
          yield* Fiber.interrupt(fiber)
        })
        yield* program.pipe(
          Effect.provide(
            KafkaJs.layerConfig().pipe(
              Layer.provide(
                fromEnv({
                  KAFKA_BROKERS: brokers.join(","),
                  KAFKA_GROUP_ID: groupId,
                  KAFKA_CLIENT_ID: "sluice-one-layer",
                  KAFKA_COMMIT_INTERVAL: "100 millis",
                  KAFKA_SESSION_TIMEOUT: "6 seconds",
                  KAFKA_HEARTBEAT_INTERVAL: "500 millis",
                  KAFKA_DRAIN_TIMEOUT: "5 seconds",
                  KAFKA_LOG_LEVEL: "error"
                })
              )
            )
          )
        )
        const offsets = yield* committed(brokers, groupId, name)
        expect((offsets.get(0) ?? 0) + (offsets.get(1) ?? 0)).toBe(20)
      }),
    120_000
  )

  it.scopedLive("a mode of concurrency 0 fails the pipeline within a second with a SettingsError", () =>
    Effect.gen(function* () {
      const pipeline = Pipeline.make({
        topic: Topic.make({ name: uniqueName("sluice-bad-mode") }),
        mode: ProcessingMode.keyed({ concurrency: 0 }),
        handler: () => Effect.void
      })
      const error = yield* Effect.flip(
        Pipeline.run(pipeline).pipe(
          Effect.timeoutFail({ duration: "1 second", onTimeout: () => "still running after a second" }),
          Effect.provide(KafkaJs.layer({ brokers, groupId: uniqueName("g"), logLevel: "error" }))
        )
      )
      expect(error).toMatchObject({ _tag: "SettingsError", setting: "mode.concurrency" })
    })
  )
})
