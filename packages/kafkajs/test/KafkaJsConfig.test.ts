import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as KafkaJsConfig from "../src/KafkaJsConfig.js"

const read = (env: Record<string, string>) =>
  Effect.withConfigProvider(
    KafkaJsConfig.config,
    ConfigProvider.fromMap(new Map(Object.entries(env)), { pathDelim: "_" })
  )

describe("KafkaJsConfig", () => {
  it.effect("reads KAFKA_BROKERS (comma-separated) and an optional KAFKA_CLIENT_ID", () =>
    Effect.gen(function* () {
      const config = yield* read({ KAFKA_BROKERS: " a:9092, b:9093 ,," })
      expect(config.brokers).toEqual(["a:9092", "b:9093"])
      expect(config.clientId).toBeUndefined()
      expect(config.ssl).toBeUndefined()
      expect(config.sasl).toBeUndefined()
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

  it.effect("the timeouts, retries and log level are readable too, and checked by validate", () =>
    Effect.gen(function* () {
      const config = yield* read({
        KAFKA_BROKERS: "a:1",
        KAFKA_CONNECTION_TIMEOUT: "5 seconds",
        KAFKA_REQUEST_TIMEOUT: "10000",
        KAFKA_RETRIES: "2",
        KAFKA_INITIAL_RETRY_TIME: "100 millis",
        KAFKA_MAX_RETRY_TIME: "2 seconds",
        KAFKA_LOG_LEVEL: "error"
      })
      const resolved = yield* KafkaJsConfig.validate(config)
      expect(Duration.toMillis(resolved.connectionTimeout)).toBe(5_000)
      expect(Duration.toMillis(resolved.requestTimeout)).toBe(10_000)
      expect(resolved.retries).toBe(2)
      expect(Duration.toMillis(resolved.initialRetryTime)).toBe(100)
      expect(Duration.toMillis(resolved.maxRetryTime)).toBe(2_000)
      expect(resolved.logLevel).toBe("error")
      const bad = yield* Effect.flip(
        KafkaJsConfig.validate(yield* read({ KAFKA_BROKERS: "a:1", KAFKA_RETRIES: "1.5" }))
      )
      expect(bad).toMatchObject({ _tag: "SettingsError", setting: "retries" })
      expect(bad.message).toContain("1.5")
    })
  )

  it.effect("defaults bound a dead cluster to seconds", () =>
    Effect.gen(function* () {
      const resolved = yield* KafkaJsConfig.validate({ brokers: ["a:1"] })
      expect(resolved.retries).toBe(4)
      expect(Duration.toMillis(resolved.connectionTimeout)).toBe(3_000)
      expect(resolved.logLevel).toBe("warn")
    })
  )
})
