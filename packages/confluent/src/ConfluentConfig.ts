/**
 * How to reach the brokers: the settings the confluent consumer and producer drivers share,
 * with `defaults` and a `Config` reader for the environment.
 *
 * @since 0.1.0
 */
import * as ClientConfig from "@sluice/core/ClientConfig"
import type { SettingsError } from "@sluice/core/SettingsError"
import * as Validate from "@sluice/core/Validate"
import type * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * The SASL mechanisms the drivers configure (`sasl.mechanisms`).
 *
 * @since 0.1.0
 */
export type SaslMechanism = ClientConfig.SaslMechanism

/**
 * SASL credentials. The password is `Redacted` so that it never shows in logs or traces.
 *
 * @since 0.1.0
 */
export type SaslConfig = ClientConfig.SaslConfig

/**
 * The lowest librdkafka log level that reaches Effect's logger.
 *
 * @since 0.1.0
 */
export type LogLevel = ClientConfig.LogLevel

/**
 * A librdkafka property value, as `CONFIGURATION.md` of librdkafka documents them.
 *
 * @since 0.1.0
 */
export type PropertyValue = string | number | boolean

/**
 * The connection settings of both confluent drivers: the brokers, TLS, SASL, timeouts, the
 * log level and further librdkafka properties. Only `brokers` is required.
 *
 * @example
 * ```ts
 * import * as ConfluentDriver from "@sluice/confluent/ConfluentDriver"
 *
 * const DriverLive = ConfluentDriver.layer({ brokers: ["127.0.0.1:9092"] })
 * ```
 *
 * @since 0.1.0
 */
export interface ConfluentConfig extends ClientConfig.ClientConfig {
  /** TLS with the system's CAs (`security.protocol` `ssl`, or `sasl_ssl` with `sasl`). */
  readonly ssl?: boolean | undefined
  /** Per TCP connection attempt, TLS and SASL included (`socket.connection.setup.timeout.ms`). */
  readonly connectionTimeout?: Duration.DurationInput | undefined
  /**
   * Per request (`socket.timeout.ms`); also how long connecting waits for the cluster's metadata
   * and how long a commit or an offset fetch may take before it fails as a `timeout`.
   */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /**
   * Further librdkafka properties (`statistics.interval.ms`, `ssl.ca.location`, …), applied
   * under the drivers' own: a property a driver sets itself is refused with a `SettingsError`.
   */
  readonly librdkafka?: Readonly<Record<string, PropertyValue>> | undefined
}

/**
 * The defaults fill what a `ConfluentConfig` leaves out. Connecting to a cluster that cannot
 * be reached fails after `requestTimeout`.
 *
 * @since 0.1.0
 */
export const defaults = {
  clientId: "sluice",
  connectionTimeout: Duration.seconds(3),
  requestTimeout: Duration.seconds(10),
  logLevel: "warn" as LogLevel
} as const

/**
 * A `ConfluentConfig` with every default applied.
 *
 * @since 0.1.0
 */
export interface Resolved {
  readonly brokers: ReadonlyArray<string>
  readonly clientId: string
  readonly ssl: boolean
  readonly sasl: SaslConfig | undefined
  readonly connectionTimeout: Duration.Duration
  readonly requestTimeout: Duration.Duration
  readonly logLevel: LogLevel
  readonly librdkafka: Readonly<Record<string, PropertyValue>>
}

/**
 * Applies `defaults` to what a `ConfluentConfig` leaves out, without checking it (`validate`
 * checks).
 *
 * @since 0.1.0
 */
export const resolve = (config: ConfluentConfig): Resolved => ({
  brokers: config.brokers,
  clientId: config.clientId ?? defaults.clientId,
  ssl: config.ssl ?? false,
  sasl: config.sasl,
  connectionTimeout: Duration.decode(config.connectionTimeout ?? defaults.connectionTimeout),
  requestTimeout: Duration.decode(config.requestTimeout ?? defaults.requestTimeout),
  logLevel: config.logLevel ?? defaults.logLevel,
  librdkafka: config.librdkafka ?? {}
})

/**
 * Checks a `ConfluentConfig` (brokers `host:port`, log level, SASL, clientId as
 * `ClientConfig.validate` does; durations positive) and applies `defaults`. A bad value fails
 * with a `SettingsError` naming it.
 *
 * @since 0.2.0
 */
export const validate = (config: ConfluentConfig): Effect.Effect<Resolved, SettingsError> =>
  Effect.gen(function* () {
    const shared = yield* ClientConfig.validate(config, defaults)
    return {
      ...resolve(config),
      ...shared,
      connectionTimeout: yield* Validate.optionalDuration(
        "connectionTimeout",
        config.connectionTimeout,
        defaults.connectionTimeout
      ),
      requestTimeout: yield* Validate.optionalDuration("requestTimeout", config.requestTimeout, defaults.requestTimeout)
    }
  })

/**
 * Reads the connection settings from configuration (the environment by default) with the same
 * names as the kafkajs driver (`ClientConfig.config`): `KAFKA_BROKERS` (comma-separated,
 * required), `KAFKA_CLIENT_ID`, `KAFKA_SSL` (`true`/`false`), `KAFKA_SASL_MECHANISM` +
 * `KAFKA_SASL_USERNAME` + `KAFKA_SASL_PASSWORD` together, `KAFKA_CONNECTION_TIMEOUT`,
 * `KAFKA_REQUEST_TIMEOUT`, `KAFKA_LOG_LEVEL`. Values are checked by `validate`.
 *
 * @since 0.2.0
 */
export const config: Config.Config<ConfluentConfig> = ClientConfig.config
