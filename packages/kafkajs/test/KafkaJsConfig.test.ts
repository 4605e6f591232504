import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as KafkaJsConfig from "../src/KafkaJsConfig.js"

const read = (env: Record<string, string>) =>
  Effect.withConfigProvider(KafkaJsConfig.fromEnv, ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("KafkaJsConfig", () => {
  it.effect("reads KAFKA_BROKERS (comma-separated) and an optional KAFKA_CLIENT_ID", () =>
    Effect.gen(function* () {
      const config = yield* read({ KAFKA_BROKERS: " a:9092, b:9093 ,," })
      expect(config).toEqual({ brokers: ["a:9092", "b:9093"], clientId: undefined, ssl: false, sasl: undefined })
      expect((yield* read({ KAFKA_BROKERS: "a:1", KAFKA_CLIENT_ID: "me" })).clientId).toBe("me")
    })
  )

  it.effect("SASL needs all three settings; the password stays redacted", () =>
    Effect.gen(function* () {
      const config = yield* read({
        KAFKA_BROKERS: "a:1",
        KAFKA_SSL: "true",
        KAFKA_SASL_MECHANISM: "scram-sha-512",
        KAFKA_SASL_USERNAME: "u",
        KAFKA_SASL_PASSWORD: "secret"
      })
      expect(config.ssl).toBe(true)
      expect(config.sasl?.mechanism).toBe("scram-sha-512")
      expect(Redacted.value(config.sasl!.password)).toBe("secret")
      expect(String(config.sasl!.password)).not.toContain("secret")
    })
  )

  it.effect("missing or empty KAFKA_BROKERS is a ConfigError", () =>
    Effect.gen(function* () {
      expect((yield* Effect.flip(read({})))._op).toBeDefined()
      expect((yield* Effect.flip(read({ KAFKA_BROKERS: " , " })))._op).toBeDefined()
    })
  )

  it("defaults bound a dead cluster to seconds", () => {
    const resolved = KafkaJsConfig.resolve({ brokers: ["a:1"] })
    expect(resolved.retries).toBe(4)
    expect(Duration.toMillis(resolved.connectionTimeout)).toBe(3_000)
    expect(resolved.logLevel).toBe("warn")
  })
})
