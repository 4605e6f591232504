/**
 * `KafkaJs.layerConfig` on a real broker: one layer from `KAFKA_*` runs a keyed pipeline
 * that dead-letters, and a consumer with a mode of concurrency 0 fails within a second.
 */
import { describe, expect, it } from "@effect/vitest"
import { Admin } from "@sluice/core/Admin"
import * as Pipeline from "@sluice/core/Pipeline"
import * as ProcessingMode from "@sluice/core/ProcessingMode"
import * as Topic from "@sluice/core/Topic"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { keyedPipelineWithDeadLetters, uniqueName } from "@sluice/testkit/TestHelpers"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as KafkaJs from "../src/KafkaJs.js"
import { committed, createTopic } from "./support.js"

const broker = await brokerForTests()

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
        const handled = yield* keyedPipelineWithDeadLetters(name, `${name}.dlq`).pipe(
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
        expect(new Set(handled).size).toBe(19)
        const offsets = yield* committed(brokers, groupId, name)
        expect((offsets.get(0) ?? 0) + (offsets.get(1) ?? 0)).toBe(20)
      }),
    120_000
  )

  it.scopedLive(
    "the one layer provides Admin: the group's committed offsets and lag after a pipeline ran",
    () =>
      Effect.gen(function* () {
        const name = uniqueName("sluice-one-layer-admin")
        const groupId = uniqueName("sluice-one-layer-admin-group")
        yield* createTopic(brokers, name, 2)
        yield* createTopic(brokers, `${name}.dlq`, 1)
        const group = yield* Effect.gen(function* () {
          yield* keyedPipelineWithDeadLetters(name, `${name}.dlq`)
          const admin = yield* Admin
          expect(yield* admin.listTopics).toContain(name)
          return yield* admin.describeGroup(groupId)
        }).pipe(Effect.provide(KafkaJs.layer({ brokers, groupId, commitInterval: "100 millis", logLevel: "error" })))
        expect(group.lag).toBe(0)
        expect(group.offsets.filter((o) => o.topic === name).reduce((sum, o) => sum + (o.committed ?? 0), 0)).toBe(20)
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
