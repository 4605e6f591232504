import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as ConfluentConfig from "../src/ConfluentConfig.js"

const read = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfluentConfig.fromEnv, ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("ConfluentConfig", () => {
  it.effect("reads the same environment as the kafkajs driver", () =>
    Effect.gen(function* () {
      const config = yield* read({ KAFKA_BROKERS: " a:9092, b:9093 ,,", KAFKA_CLIENT_ID: "me" })
      expect(config).toEqual({ brokers: ["a:9092", "b:9093"], clientId: "me", ssl: false, sasl: undefined })
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

  it("defaults", () => {
    const resolved = ConfluentConfig.resolve({ brokers: ["a:1"] })
    expect(resolved.clientId).toBe("sluice")
    expect(Duration.toMillis(resolved.requestTimeout)).toBe(10_000)
    expect(resolved.librdkafka).toEqual({})
  })
})
