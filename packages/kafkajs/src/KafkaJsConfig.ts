/**
 * How to reach the brokers: the settings the kafkajs consumer and producer drivers (and the
 * admin client) share, with `defaults`, `validate` and a `Config` reader for the environment
 * (`KAFKA_BROKERS`, `KAFKA_CLIENT_ID`, …; docs/configuration.md has the table).
 *
 * @since 0.1.0
 */

import type { ConnectionOptions } from "node:tls"
import * as SettingsConfig from "@sluice/core/SettingsConfig"
import type { SettingsError } from "@sluice/core/SettingsError"
import * as Validate from "@sluice/core/Validate"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"

/**
 * The SASL mechanisms kafkajs supports without plug-ins.
 *
 * @since 0.1.0
 */
export type SaslMechanism = "plain" | "scram-sha-256" | "scram-sha-512"

/**
 * SASL credentials. The password is `Redacted` so that it never shows in logs or traces.
 *
 * @since 0.1.0
 */
export interface SaslConfig {
  readonly mechanism: SaslMechanism
  readonly username: string
  readonly password: Redacted.Redacted<string>
}

/**
 * The lowest kafkajs log level that reaches Effect's logger.
 *
 * @since 0.1.0
 */
export type LogLevel = "nothing" | "error" | "warn" | "info" | "debug"

/**
 * The connection settings: where the brokers are and how to talk to them.
 *
 * @example
 * ```ts
 * import * as KafkaJs from "@sluice/kafkajs/KafkaJs"
 *
 * const KafkaLive = KafkaJs.layer({ brokers: ["127.0.0.1:9092"], groupId: "billing", connectionTimeout: "5 seconds" })
 * ```
 *
 * @since 0.1.0
 */
export interface KafkaJsConfig {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: ReadonlyArray<string>
  /** Names this client in the brokers' logs and quotas. The consumer uses the subscription's own. */
  readonly clientId?: string | undefined
  /** `true` for TLS with the system's CAs, or Node's TLS options. */
  readonly ssl?: boolean | ConnectionOptions | undefined
  readonly sasl?: SaslConfig | undefined
  /** Per TCP connection attempt. */
  readonly connectionTimeout?: Duration.DurationInput | undefined
  /** Per request, enforced by the client. */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /**
   * How many times kafkajs retries a retriable failure (connecting, metadata, commits, …)
   * before it gives up. Together with the retry times this bounds how long an unreachable
   * cluster takes to fail: about `(retries + 1) × connectionTimeout` plus the back-off.
   */
  readonly retries?: number | undefined
  /** First back-off, doubled at each retry (with ±20 % jitter) up to `maxRetryTime`. */
  readonly initialRetryTime?: Duration.DurationInput | undefined
  readonly maxRetryTime?: Duration.DurationInput | undefined
  /** kafkajs logs at this level and above go to Effect's logger. */
  readonly logLevel?: LogLevel | undefined
}

/**
 * The defaults fill what a `KafkaJsConfig` leaves out. kafkajs's own (5 retries from 300 ms,
 * up to 30 s apart) make a refused connection take about 10 s to fail; these fail in 4–6 s,
 * and in about 19 s when every attempt times out.
 *
 * @since 0.1.0
 */
export const defaults = {
  clientId: "sluice",
  connectionTimeout: Duration.seconds(3),
  requestTimeout: Duration.seconds(30),
  retries: 4,
  initialRetryTime: Duration.millis(250),
  maxRetryTime: Duration.seconds(5),
  logLevel: "warn" as LogLevel
} as const

/**
 * A `KafkaJsConfig` with every default applied, checked.
 *
 * @since 0.1.0
 */
export interface Resolved {
  readonly brokers: ReadonlyArray<string>
  readonly clientId: string
  readonly ssl: boolean | ConnectionOptions | undefined
  readonly sasl: SaslConfig | undefined
  readonly connectionTimeout: Duration.Duration
  readonly requestTimeout: Duration.Duration
  readonly retries: number
  readonly initialRetryTime: Duration.Duration
  readonly maxRetryTime: Duration.Duration
  readonly logLevel: LogLevel
}

/** `host:port` with a port from 1 to 65535. */
const broker = /^[^\s:,]+:(\d{1,5})$/
const logLevels: ReadonlyArray<LogLevel> = ["nothing", "error", "warn", "info", "debug"]
const mechanisms: ReadonlyArray<SaslMechanism> = ["plain", "scram-sha-256", "scram-sha-512"]

/**
 * Checks a `KafkaJsConfig` and applies the defaults: at least one broker, each `host:port`;
 * durations positive and at most 24 days; `retries` a non-negative integer; a known log level
 * and SASL mechanism. A bad value fails with a `SettingsError` naming it.
 *
 * @since 0.2.0
 */
export const validate = (config: KafkaJsConfig): Effect.Effect<Resolved, SettingsError> =>
  Effect.gen(function* () {
    const brokers = config.brokers as ReadonlyArray<unknown> | undefined
    if (!Array.isArray(brokers) || brokers.length === 0) {
      return yield* Validate.fail("brokers", `brokers must name at least one host:port, got ${Validate.show(brokers)}`)
    }
    for (const [i, b] of brokers.entries()) {
      const match = typeof b === "string" ? broker.exec(b) : null
      const port = match === null ? 0 : Number(match[1])
      if (port < 1 || port > 65535) {
        return yield* Validate.fail(`brokers[${i}]`, `brokers[${i}] must be host:port, got ${Validate.show(b)}`)
      }
    }
    const logLevel = yield* Validate.oneOf("logLevel", config.logLevel ?? defaults.logLevel, logLevels)
    if (config.sasl !== undefined) {
      yield* Validate.oneOf("sasl.mechanism", config.sasl.mechanism, mechanisms)
      yield* Validate.name("sasl.username", config.sasl.username)
      if (!Redacted.isRedacted(config.sasl.password)) {
        return yield* Validate.fail(
          "sasl.password",
          "sasl.password must be Redacted (Redacted.make or Config.redacted)"
        )
      }
    }
    const initialRetryTime = yield* Validate.optionalDuration(
      "initialRetryTime",
      config.initialRetryTime,
      defaults.initialRetryTime
    )
    const maxRetryTime = yield* Validate.optionalDuration("maxRetryTime", config.maxRetryTime, defaults.maxRetryTime)
    if (Duration.lessThan(maxRetryTime, initialRetryTime)) {
      return yield* Validate.fail(
        "maxRetryTime",
        `maxRetryTime (${Duration.format(maxRetryTime)}) must be at least initialRetryTime (${Duration.format(initialRetryTime)})`
      )
    }
    return {
      brokers: brokers as ReadonlyArray<string>,
      clientId: config.clientId === undefined ? defaults.clientId : yield* Validate.name("clientId", config.clientId),
      ssl: config.ssl,
      sasl: config.sasl,
      connectionTimeout: yield* Validate.optionalDuration(
        "connectionTimeout",
        config.connectionTimeout,
        defaults.connectionTimeout
      ),
      requestTimeout: yield* Validate.optionalDuration(
        "requestTimeout",
        config.requestTimeout,
        defaults.requestTimeout
      ),
      retries: yield* Validate.nonNegativeInt("retries", config.retries ?? defaults.retries),
      initialRetryTime,
      maxRetryTime,
      logLevel
    } satisfies Resolved
  })

const { duration: durationConfig, number, optional } = SettingsConfig

const brokerList = Config.string("BROKERS").pipe(
  Config.map((value) =>
    value
      .split(",")
      .map((b) => b.trim())
      .filter((b) => b.length > 0)
  ),
  Config.validate({ message: "KAFKA_BROKERS must name at least one host:port", validation: (list) => list.length > 0 })
)

const sasl: Config.Config<SaslConfig | undefined> = optional(
  Config.nested(
    Config.all({
      mechanism: Config.literal("plain", "scram-sha-256", "scram-sha-512")("MECHANISM"),
      username: Config.string("USERNAME"),
      password: Config.redacted("PASSWORD")
    }),
    "SASL"
  )
)

/**
 * Reads the connection settings from configuration (the environment by default), under
 * `KAFKA_`: `KAFKA_BROKERS` (comma-separated, required), `KAFKA_CLIENT_ID`, `KAFKA_SSL`
 * (`true`/`false`), `KAFKA_SASL_MECHANISM` + `KAFKA_SASL_USERNAME` + `KAFKA_SASL_PASSWORD`
 * (together), `KAFKA_CONNECTION_TIMEOUT`, `KAFKA_REQUEST_TIMEOUT`, `KAFKA_RETRIES`,
 * `KAFKA_INITIAL_RETRY_TIME`, `KAFKA_MAX_RETRY_TIME`, `KAFKA_LOG_LEVEL`. Values are checked
 * by `validate`.
 *
 * @since 0.2.0
 */
export const config: Config.Config<KafkaJsConfig> = Config.nested(
  Config.all({
    brokers: brokerList,
    clientId: optional(Config.string("CLIENT_ID")),
    ssl: optional(Config.boolean("SSL")),
    sasl,
    connectionTimeout: optional(durationConfig("CONNECTION_TIMEOUT")),
    requestTimeout: optional(durationConfig("REQUEST_TIMEOUT")),
    retries: optional(number("RETRIES")),
    initialRetryTime: optional(durationConfig("INITIAL_RETRY_TIME")),
    maxRetryTime: optional(durationConfig("MAX_RETRY_TIME")),
    logLevel: optional(Config.literal("nothing", "error", "warn", "info", "debug")("LOG_LEVEL"))
  }),
  SettingsConfig.prefix
)
