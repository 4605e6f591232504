/**
 * How to reach the brokers: the settings the confluent consumer and producer drivers share,
 * with `defaults` and a `Config` reader for the environment.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"

/**
 * The SASL mechanisms the drivers configure (`sasl.mechanisms`).
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
 * The lowest librdkafka log level that reaches Effect's logger.
 *
 * @since 0.1.0
 */
export type LogLevel = "nothing" | "error" | "warn" | "info" | "debug"

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
export interface ConfluentConfig {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: ReadonlyArray<string>
  /** Names this client in the brokers' logs and quotas. The consumer uses the subscription's own. */
  readonly clientId?: string | undefined
  /** TLS with the system's CAs (`security.protocol` `ssl`, or `sasl_ssl` with `sasl`). */
  readonly ssl?: boolean | undefined
  readonly sasl?: SaslConfig | undefined
  /** Per TCP connection attempt, TLS and SASL included (`socket.connection.setup.timeout.ms`). */
  readonly connectionTimeout?: Duration.DurationInput | undefined
  /**
   * Per request (`socket.timeout.ms`); also how long connecting waits for the cluster's metadata
   * and how long a commit or an offset fetch may take before it fails as a `timeout`.
   */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /** librdkafka logs at this level and above go to Effect's logger. */
  readonly logLevel?: LogLevel | undefined
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
 * Applies `defaults` to what a `ConfluentConfig` leaves out.
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

const brokerList = Config.string("KAFKA_BROKERS").pipe(
  Config.map((value) =>
    value
      .split(",")
      .map((broker) => broker.trim())
      .filter((broker) => broker.length > 0)
  ),
  Config.validate({ message: "KAFKA_BROKERS must name at least one host:port", validation: (list) => list.length > 0 })
)

const sasl: Config.Config<Option.Option<SaslConfig>> = Config.option(
  Config.all({
    mechanism: Config.literal("plain", "scram-sha-256", "scram-sha-512")("KAFKA_SASL_MECHANISM"),
    username: Config.string("KAFKA_SASL_USERNAME"),
    password: Config.redacted("KAFKA_SASL_PASSWORD")
  })
)

/**
 * Reads the environment, with the same names as the kafkajs driver: `KAFKA_BROKERS`
 * (comma-separated, required), `KAFKA_CLIENT_ID`, `KAFKA_SSL` (`true`/`false`), and
 * `KAFKA_SASL_MECHANISM` + `KAFKA_SASL_USERNAME` + `KAFKA_SASL_PASSWORD` together.
 *
 * @since 0.1.0
 */
export const fromEnv: Config.Config<ConfluentConfig> = Config.all({
  brokers: brokerList,
  clientId: Config.option(Config.string("KAFKA_CLIENT_ID")),
  ssl: Config.boolean("KAFKA_SSL").pipe(Config.withDefault(false)),
  sasl
}).pipe(
  Config.map(
    ({ brokers, clientId, sasl, ssl }): ConfluentConfig => ({
      brokers,
      clientId: Option.getOrUndefined(clientId),
      ssl,
      sasl: Option.getOrUndefined(sasl)
    })
  )
)
