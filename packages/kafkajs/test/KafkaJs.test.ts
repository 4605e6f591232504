/**
 * `KafkaJs.layer` / `KafkaJs.layerConfig` without a broker: every setting is readable from
 * the environment under `KAFKA_`, and every bad one fails the layer with a `SettingsError`
 * naming it before anything connects (the brokers here cannot be reached, so a value that
 * slipped through would hang on the connection and fail the one-second deadline).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as fc from "fast-check"
import * as KafkaJs from "../src/KafkaJs.js"

const env = (vars: Record<string, string>) => ConfigProvider.fromMap(new Map(Object.entries(vars)), { pathDelim: "_" })
const read = (vars: Record<string, string>) => Effect.withConfigProvider(KafkaJs.config, env(vars))

/** Nothing listens on port 1: a layer that got past validation would wait on the connection. */
const unreachable = { brokers: ["127.0.0.1:1"], groupId: "g", connectionTimeout: "5 seconds" } as const

const build = (options: KafkaJs.Options) =>
  Layer.build(KafkaJs.layer(options)).pipe(
    Effect.scoped,
    Effect.timeoutFail({ duration: "1 second", onTimeout: () => "still connecting after a second" }),
    Effect.exit
  )

describe("KafkaJs.config", () => {
  it.effect("reads every setting from KAFKA_*", () =>
    Effect.gen(function* () {
      const options = yield* read({
        KAFKA_BROKERS: "a:9092,b:9092",
        KAFKA_CLIENT_ID: "billing-1",
        KAFKA_SSL: "false",
        KAFKA_CONNECTION_TIMEOUT: "4 seconds",
        KAFKA_REQUEST_TIMEOUT: "20 seconds",
        KAFKA_RETRIES: "3",
        KAFKA_INITIAL_RETRY_TIME: "200 millis",
        KAFKA_MAX_RETRY_TIME: "3 seconds",
        KAFKA_LOG_LEVEL: "info",
        KAFKA_GROUP_ID: "billing",
        KAFKA_START_FROM: "latest",
        KAFKA_COMMIT_INTERVAL: "2 seconds",
        KAFKA_COMMIT_EVERY: "500",
        KAFKA_COMMIT_RETRIES: "7",
        KAFKA_COMMIT_RETRY_BASE: "50",
        KAFKA_REVOCATION: "drain",
        KAFKA_DRAIN_TIMEOUT: "5 seconds",
        KAFKA_BUFFER_PER_PARTITION: "100",
        KAFKA_BUFFER_TOTAL: "1000",
        KAFKA_SHUTDOWN_TIMEOUT: "20 seconds",
        KAFKA_SESSION_TIMEOUT: "45 seconds",
        KAFKA_REBALANCE_TIMEOUT: "90 seconds",
        KAFKA_HEARTBEAT_INTERVAL: "5 seconds",
        KAFKA_MAX_BYTES_PER_PARTITION: "524288",
        KAFKA_MAX_WINDOW: "2000",
        KAFKA_PARTITIONS_CONSUMED_CONCURRENTLY: "8",
        KAFKA_MAX_WAIT_TIME: "250 millis",
        KAFKA_MAX_BYTES: "2097152",
        KAFKA_MAX_RESTARTS: "2",
        KAFKA_ALLOW_AUTO_TOPIC_CREATION: "true",
        KAFKA_READ_UNCOMMITTED: "true",
        KAFKA_IDEMPOTENT: "false"
      })
      expect(options).toMatchObject({
        brokers: ["a:9092", "b:9092"],
        clientId: "billing-1",
        ssl: false,
        connectionTimeout: "4 seconds",
        requestTimeout: "20 seconds",
        retries: 3,
        initialRetryTime: "200 millis",
        maxRetryTime: "3 seconds",
        logLevel: "info",
        groupId: "billing",
        startFrom: "latest",
        commitInterval: "2 seconds",
        commitEvery: 500,
        commitRetries: 7,
        commitRetryBase: 50,
        revocation: { _tag: "Drain", drainTimeout: "5 seconds" },
        buffer: { perPartition: 100, total: 1000 },
        shutdownTimeout: "20 seconds",
        sessionTimeout: "45 seconds",
        rebalanceTimeout: "90 seconds",
        heartbeatInterval: "5 seconds",
        maxBytesPerPartition: 524288,
        maxWindow: 2000,
        partitionsConsumedConcurrently: 8,
        maxWaitTime: "250 millis",
        maxBytes: 2097152,
        maxRestarts: 2,
        allowAutoTopicCreation: true,
        readUncommitted: true,
        idempotent: false
      })
    })
  )

  it.effect("KAFKA_DRAIN_TIMEOUT alone means drain with that timeout; with interrupt it is a ConfigError", () =>
    Effect.gen(function* () {
      const base = { KAFKA_BROKERS: "a:1", KAFKA_GROUP_ID: "g" }
      const drain = yield* read({ ...base, KAFKA_DRAIN_TIMEOUT: "3 seconds" })
      expect(drain.revocation).toEqual({ _tag: "Drain", drainTimeout: "3 seconds" })
      expect((yield* read({ ...base, KAFKA_REVOCATION: "interrupt" })).revocation).toEqual({ _tag: "Interrupt" })
      expect((yield* read(base)).revocation).toBeUndefined()
      const both = yield* Effect.flip(
        read({ ...base, KAFKA_REVOCATION: "interrupt", KAFKA_DRAIN_TIMEOUT: "3 seconds" })
      )
      expect(String(both)).toContain("DRAIN_TIMEOUT")
    })
  )

  it.effect("a number that is not one is a ConfigError naming the variable; one out of range, a SettingsError", () =>
    Effect.gen(function* () {
      const base = { KAFKA_BROKERS: "127.0.0.1:1", KAFKA_GROUP_ID: "g" }
      const text = yield* Effect.flip(read({ ...base, KAFKA_COMMIT_EVERY: "many" }))
      expect(String(text)).toContain("COMMIT_EVERY")
      for (const [name, setting, value] of [
        ["KAFKA_COMMIT_EVERY", "commitEvery", "1.5"],
        ["KAFKA_MAX_WINDOW", "maxWindow", "0"],
        ["KAFKA_COMMIT_INTERVAL", "commitInterval", "-5 seconds"],
        ["KAFKA_SESSION_TIMEOUT", "sessionTimeout", "soon"],
        ["KAFKA_MAX_WAIT_TIME", "maxWaitTime", "0"],
        ["KAFKA_MAX_BYTES", "maxBytes", "0"],
        ["KAFKA_RETRIES", "retries", "-1"],
        ["KAFKA_PARTITIONS_CONSUMED_CONCURRENTLY", "partitionsConsumedConcurrently", "NaN"]
      ] as const) {
        const exit = yield* Layer.build(KafkaJs.layerConfig()).pipe(
          Effect.scoped,
          Effect.withConfigProvider(env({ ...base, [name]: value })),
          Effect.timeoutFail({ duration: "1 second", onTimeout: () => "still connecting after a second" }),
          Effect.exit
        )
        const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
        expect(error, name).toMatchObject({ _tag: "SettingsError", setting })
        expect((error as { message: string }).message, name).toContain(value === "NaN" ? "NaN" : value)
      }
    })
  )
})

const notFinite = fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY)
const fraction = fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 })
const invalidInt = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  fc.oneof(
    fc.integer({ max: min - 1 }),
    notFinite,
    fraction,
    fc.constantFrom(2 ** 53, 1e300),
    ...(max < Number.MAX_SAFE_INTEGER ? [fc.integer({ min: max + 1 })] : [])
  )
const invalidDuration: fc.Arbitrary<Duration.DurationInput> = fc.oneof(
  fc.double({ max: 0, noNaN: true }),
  notFinite,
  fc.double({ min: 2 ** 31, noNaN: true }),
  fc.constantFrom(
    "",
    "soon",
    "-1 seconds",
    "0 millis",
    "40 days",
    Duration.infinity
  ) as fc.Arbitrary<Duration.DurationInput>
)
const invalidName = fc.constantFrom("", " ", "\t")

const cases: ReadonlyArray<readonly [string, fc.Arbitrary<any>, (value: any) => Partial<KafkaJs.Options>]> = [
  ["brokers", fc.constantFrom([], undefined), (v) => ({ brokers: v })],
  [
    "brokers[0]",
    fc.constantFrom("", "localhost", "host:", ":9092", "host:0", "host:70000", "a b:1"),
    (v) => ({ brokers: [v] })
  ],
  ["clientId", invalidName, (v) => ({ clientId: v })],
  ["groupId", invalidName, (v) => ({ groupId: v })],
  ["connectionTimeout", invalidDuration, (v) => ({ connectionTimeout: v })],
  ["requestTimeout", invalidDuration, (v) => ({ requestTimeout: v })],
  ["initialRetryTime", invalidDuration, (v) => ({ initialRetryTime: v })],
  ["maxRetryTime", invalidDuration, (v) => ({ maxRetryTime: v })],
  ["retries", invalidInt(0), (v) => ({ retries: v })],
  ["logLevel", fc.constantFrom("", "verbose", "WARN"), (v) => ({ logLevel: v })],
  ["partitionsConsumedConcurrently", invalidInt(1, 1_000), (v) => ({ partitionsConsumedConcurrently: v })],
  ["maxWaitTime", invalidDuration, (v) => ({ maxWaitTime: v })],
  ["maxBytes", invalidInt(1), (v) => ({ maxBytes: v })],
  ["maxRestarts", invalidInt(0), (v) => ({ maxRestarts: v })],
  ["commitEvery", invalidInt(1), (v) => ({ commitEvery: v })],
  ["commitInterval", invalidDuration, (v) => ({ commitInterval: v })],
  ["sessionTimeout", invalidDuration, (v) => ({ sessionTimeout: v })],
  ["maxWindow", invalidInt(1, 24_504), (v) => ({ maxWindow: v })],
  ["buffer.perPartition", invalidInt(1), (v) => ({ buffer: { perPartition: v } })],
  ["readUncommitted", fc.constantFrom("true", 1, 0), (v) => ({ readUncommitted: v })],
  ["idempotent", fc.constantFrom("false", 1, 0), (v) => ({ idempotent: v })],
  // kafkajs cannot be a static member: refused rather than joined as a dynamic one.
  ["groupInstanceId", fc.constantFrom("host-1", "a"), (v) => ({ groupInstanceId: v })]
]

describe("KafkaJs.layer refuses bad settings with a SettingsError before it connects", () => {
  for (const [setting, values, options] of cases) {
    it(setting, async () => {
      await fc.assert(
        fc.asyncProperty(values, async (value) => {
          const exit = await Effect.runPromise(build({ ...unreachable, ...options(value) } as KafkaJs.Options))
          const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
          expect(error, `${setting} = ${String(value)}`).toMatchObject({ _tag: "SettingsError", setting })
        }),
        { numRuns: 40 }
      )
    })
  }
})
