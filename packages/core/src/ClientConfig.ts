/**
 * What every driver needs to reach the brokers, said once: the brokers, the client id, TLS,
 * SASL, the two timeouts and the log level, with their checks (`validate`) and their reader
 * from configuration (`config`, `KAFKA_*`). A driver's own connection settings extend
 * `ClientConfig` and add what only its client has (kafkajs's retries, librdkafka's
 * properties).
 *
 * @since 0.2.0
 */
import * as Config from "effect/Config"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as SettingsConfig from "./SettingsConfig.js"
import type { SettingsError } from "./SettingsError.js"
import * as Validate from "./Validate.js"

/**
 * The SASL mechanisms every driver supports.
 *
 * @since 0.2.0
 */
export type SaslMechanism = "plain" | "scram-sha-256" | "scram-sha-512"

/**
 * SASL credentials. The password is `Redacted` so that it never shows in logs or traces.
 *
 * @since 0.2.0
 */
export interface SaslConfig {
  readonly mechanism: SaslMechanism
  readonly username: string
  readonly password: Redacted.Redacted<string>
}

/**
 * The lowest level of the client's own log lines that reaches Effect's logger.
 *
 * @since 0.2.0
 */
export type LogLevel = "nothing" | "error" | "warn" | "info" | "debug"

/**
 * The log levels, lowest first.
 *
 * @since 0.2.0
 */
export const logLevels: ReadonlyArray<LogLevel> = ["nothing", "error", "warn", "info", "debug"]

/**
 * The SASL mechanisms.
 *
 * @since 0.2.0
 */
export const saslMechanisms: ReadonlyArray<SaslMechanism> = ["plain", "scram-sha-256", "scram-sha-512"]

/**
 * The connection settings every driver shares. Only `brokers` is required.
 *
 * @example
 * ```ts
 * import type * as ClientConfig from "@sluice/core/ClientConfig"
 *
 * const connection: ClientConfig.ClientConfig = { brokers: ["127.0.0.1:9092"], clientId: "billing" }
 * ```
 *
 * @since 0.2.0
 */
export interface ClientConfig {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: ReadonlyArray<string>
  /** Names this client in the brokers' logs and quotas. The consumer uses the subscription's own. */
  readonly clientId?: string | undefined
  readonly sasl?: SaslConfig | undefined
  /** Per TCP connection attempt. */
  readonly connectionTimeout?: Duration.DurationInput | undefined
  /** Per request. */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /** The client's log lines at this level and above go to Effect's logger. */
  readonly logLevel?: LogLevel | undefined
}

/** `host:port` with a port from 1 to 65535. */
const broker = /^[^\s:,]+:(\d{1,5})$/

/**
 * Checks the shared settings: at least one broker, each `host:port`; a known log level (or
 * `fallbackLogLevel` when left out); a known SASL mechanism, a username and a `Redacted`
 * password; a clientId that is not blank. A bad value fails with a `SettingsError` naming it.
 *
 * @since 0.2.0
 */
export const validate = (
  config: ClientConfig,
  fallback: { readonly clientId: string; readonly logLevel: LogLevel }
): Effect.Effect<
  { readonly brokers: ReadonlyArray<string>; readonly clientId: string; readonly logLevel: LogLevel },
  SettingsError
> =>
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
    const logLevel = yield* Validate.oneOf("logLevel", config.logLevel ?? fallback.logLevel, logLevels)
    if (config.sasl !== undefined) {
      yield* Validate.oneOf("sasl.mechanism", config.sasl.mechanism, saslMechanisms)
      yield* Validate.name("sasl.username", config.sasl.username)
      if (!Redacted.isRedacted(config.sasl.password)) {
        return yield* Validate.fail(
          "sasl.password",
          "sasl.password must be Redacted (Redacted.make or Config.redacted)"
        )
      }
    }
    return {
      brokers: brokers as ReadonlyArray<string>,
      clientId: config.clientId === undefined ? fallback.clientId : yield* Validate.name("clientId", config.clientId),
      logLevel
    }
  })

const { duration, optional } = SettingsConfig

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
      mechanism: Config.literal(...saslMechanisms)("MECHANISM"),
      username: Config.string("USERNAME"),
      password: Config.redacted("PASSWORD")
    }),
    "SASL"
  )
)

/**
 * Reads the shared settings and `KAFKA_SSL` from configuration (the environment by default),
 * under `KAFKA_`: `KAFKA_BROKERS` (comma-separated, required), `KAFKA_CLIENT_ID`, `KAFKA_SSL`
 * (`true`/`false`), `KAFKA_SASL_MECHANISM` + `KAFKA_SASL_USERNAME` + `KAFKA_SASL_PASSWORD`
 * (together), `KAFKA_CONNECTION_TIMEOUT`, `KAFKA_REQUEST_TIMEOUT`, `KAFKA_LOG_LEVEL`. A driver
 * adds its own names with `Config.all` beside it; values are checked by the driver's validation.
 *
 * @example
 * ```ts
 * import * as ClientConfig from "@sluice/core/ClientConfig"
 * import * as Effect from "effect/Effect"
 *
 * // KAFKA_BROKERS=a:9092,b:9092 KAFKA_SASL_MECHANISM=plain …
 * const connection = Effect.gen(function* () {
 *   return yield* ClientConfig.config
 * })
 * ```
 *
 * @since 0.2.0
 */
export const config: Config.Config<ClientConfig & { readonly ssl?: boolean | undefined }> = Config.nested(
  Config.all({
    brokers: brokerList,
    clientId: optional(Config.string("CLIENT_ID")),
    ssl: optional(Config.boolean("SSL")),
    sasl,
    connectionTimeout: optional(duration("CONNECTION_TIMEOUT")),
    requestTimeout: optional(duration("REQUEST_TIMEOUT")),
    logLevel: optional(Config.literal(...logLevels)("LOG_LEVEL"))
  }),
  SettingsConfig.prefix
)
