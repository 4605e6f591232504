import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as ConfluentConfig from "../src/ConfluentConfig.js"

const read = (env: Record<string, string>) =>
  Effect.withConfigProvider(
    ConfluentConfig.config,
    ConfigProvider.fromMap(new Map(Object.entries(env)), { pathDelim: "_" })
  )

describe("ConfluentConfig", () => {
  it.effect("reads the same environment as the kafkajs driver", () =>
    Effect.gen(function* () {
      const config = yield* read({ KAFKA_BROKERS: " a:9092, b:9093 ,,", KAFKA_CLIENT_ID: "me" })
      expect(config).toMatchObject({ brokers: ["a:9092", "b:9093"], clientId: "me" })
      expect(config.ssl).toBeUndefined()
      const timed = yield* read({ KAFKA_BROKERS: "a:1", KAFKA_REQUEST_TIMEOUT: "2 seconds", KAFKA_LOG_LEVEL: "debug" })
      expect(timed).toMatchObject({ requestTimeout: "2 seconds", logLevel: "debug" })
      const secure = yield* read({
        KAFKA_BROKERS: "a:1",
        KAFKA_SSL: "true",
        KAFKA_SASL_MECHANISM: "scram-sha-256",
        KAFKA_SASL_USERNAME: "u",
        KAFKA_SASL_PASSWORD: "secret"
      })
      expect(secure.ssl).toBe(true)
      expect(Redacted.value(secure.sasl!.password)).toBe("secret")
      expect(String(secure.sasl!.password)).not.toContain("secret")
      expect((yield* Effect.flip(read({ KAFKA_BROKERS: " , " })))._op).toBeDefined()
    })
  )

  it.effect("validate names the bad setting", () =>
    Effect.gen(function* () {
      const bad = yield* Effect.flip(ConfluentConfig.validate({ brokers: ["a:1", "nope"] }))
      expect(bad).toMatchObject({ _tag: "SettingsError", setting: "brokers[1]" })
      const level = yield* Effect.flip(ConfluentConfig.validate({ brokers: ["a:1"], logLevel: "loud" as never }))
      expect(level).toMatchObject({ setting: "logLevel" })
      const timeout = yield* Effect.flip(ConfluentConfig.validate({ brokers: ["a:1"], requestTimeout: -1 }))
      expect(timeout).toMatchObject({ setting: "requestTimeout" })
      const ok = yield* ConfluentConfig.validate({ brokers: ["a:1"], requestTimeout: "2 seconds" })
      expect(Duration.toMillis(ok.requestTimeout)).toBe(2000)
    })
  )

  it("defaults", () => {
    const resolved = ConfluentConfig.resolve({ brokers: ["a:1"] })
    expect(resolved.clientId).toBe("sluice")
    expect(Duration.toMillis(resolved.requestTimeout)).toBe(10_000)
    expect(resolved.librdkafka).toEqual({})
  })
})
