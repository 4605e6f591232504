/**
 * `Confluent.layer` / `Confluent.layerConfig` on a real broker: one layer from `KAFKA_*` runs a
 * keyed pipeline that dead-letters, and provides `Admin` beside `Consumer` and `Producer`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Admin } from "@sluice/core/Admin"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { keyedPipelineWithDeadLetters, uniqueName } from "@sluice/testkit/TestHelpers"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Confluent from "../src/Confluent.js"
import * as ConfluentAdmin from "../src/ConfluentAdmin.js"

const broker = await brokerForTests()

const fromEnv = (vars: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(vars)), { pathDelim: "_" }))

describe.skipIf(broker === undefined)("Confluent.layer on a real broker", () => {
  const brokers = broker?.brokers ?? []
  const topics = (name: string) =>
    Effect.gen(function* () {
      const admin = yield* Admin
      yield* admin.createTopics([
        { name, partitions: 2 },
        { name: `${name}.dlq`, partitions: 1 }
      ])
    }).pipe(Effect.provide(ConfluentAdmin.layer({ brokers, logLevel: "error" })))

  it.scopedLive(
    "one layer from KAFKA_* (KIP-848) runs a keyed pipeline that dead-letters; its Admin reads the group's offsets and lag",
    () =>
      Effect.gen(function* () {
        const name = uniqueName("sluice-confluent-layer")
        const groupId = uniqueName("sluice-confluent-layer-group")
        yield* topics(name)
        const [handled, group] = yield* Effect.gen(function* () {
          const handled = yield* keyedPipelineWithDeadLetters(name, `${name}.dlq`)
          const admin = yield* Admin
          return [handled, yield* admin.describeGroup(groupId)] as const
        }).pipe(
          Effect.provide(
            Confluent.layerConfig().pipe(
              Layer.provide(
                fromEnv({
                  KAFKA_BROKERS: brokers.join(","),
                  KAFKA_GROUP_ID: groupId,
                  KAFKA_GROUP_PROTOCOL: "consumer",
                  KAFKA_CLIENT_ID: "sluice-confluent-layer",
                  KAFKA_COMMIT_INTERVAL: "100 millis",
                  KAFKA_DRAIN_TIMEOUT: "5 seconds",
                  KAFKA_LOG_LEVEL: "error"
                })
              )
            )
          )
        )
        expect(new Set(handled).size).toBe(19)
        expect(group.lag).toBe(0)
        expect(group.offsets.filter((o) => o.topic === name).reduce((sum, o) => sum + (o.committed ?? 0), 0)).toBe(20)
      }),
    120_000
  )

  it.effect("a bad setting fails the layer with a SettingsError naming it, before anything connects", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Layer.build(Confluent.layer({ brokers: ["nowhere"], groupId: "g" })).pipe(Effect.scoped)
      )
      expect(error).toMatchObject({ _tag: "SettingsError", setting: "brokers[0]" })
      const protocol = yield* Effect.flip(
        Layer.build(Confluent.layer({ brokers, groupId: "g", groupProtocol: "consumer", assignor: "range" })).pipe(
          Effect.scoped
        )
      )
      expect(protocol).toMatchObject({ _tag: "SettingsError", setting: "assignor" })
    })
  )
})
