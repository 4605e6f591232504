/**
 * Static membership is a consumer setting that every subscription carries to its driver.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Consumer from "@sluice/core/Consumer"
import { ConsumerDriver, type Subscription } from "@sluice/core/ConsumerDriver"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as KafkaError from "@sluice/core/KafkaError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"

describe("static membership (groupInstanceId)", () => {
  it.effect("reaches the driver with every subscription; absent, the member is dynamic", () =>
    Effect.gen(function* () {
      const seen: Array<Subscription> = []
      const driver = ConsumerDriver.of({
        name: "recording",
        subscribe: (subscription) =>
          Effect.suspend(() => {
            seen.push(subscription)
            return Effect.fail(KafkaError.make({ reason: "protocol", operation: "test", message: "recorded" }))
          })
      })
      const run = (input: ConsumerSettings.Input) =>
        Effect.flatMap(Consumer.Consumer, (c) => c.run({ topics: ["t"], handler: () => Effect.void })).pipe(
          Effect.provide(Consumer.layer(input)),
          Effect.provideService(ConsumerDriver, driver),
          Effect.ignore
        )
      yield* run({ groupId: "g", groupInstanceId: "host-1" })
      yield* run({ groupId: "g" })
      expect(seen.map((s) => s.groupInstanceId)).toEqual(["host-1", undefined])
    })
  )

  it.effect("is read from KAFKA_GROUP_INSTANCE_ID; a blank one is refused naming it", () =>
    Effect.gen(function* () {
      const input = yield* Effect.withConfigProvider(
        ConsumerSettings.config,
        ConfigProvider.fromMap(
          new Map([
            ["KAFKA_GROUP_ID", "g"],
            ["KAFKA_GROUP_INSTANCE_ID", "host-2"]
          ]),
          { pathDelim: "_" }
        )
      )
      expect((yield* ConsumerSettings.make(input)).groupInstanceId).toBe("host-2")
      const error = yield* Effect.flip(ConsumerSettings.make({ groupId: "g", groupInstanceId: " " }))
      expect(error).toMatchObject({ _tag: "SettingsError", setting: "groupInstanceId" })
    })
  )
})
