/**
 * How to reach the brokers: the settings the kafkajs consumer and producer drivers share,
 * with `defaults` and a `Config` reader for the environment.
 *
 * @since 0.1.0
 */

import type { ConnectionOptions } from "node:tls"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"

/** @since 0.1.0 */
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
 * @example
 * ```ts
 * import * as KafkaJsDriver from "@sluice/kafkajs/KafkaJsDriver"
 *
 * const DriverLive = KafkaJsDriver.layer({ brokers: ["127.0.0.1:9092"] })
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
 * A `KafkaJsConfig` with every default applied.
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

/** @since 0.1.0 */
export const resolve = (config: KafkaJsConfig): Resolved => ({
  brokers: config.brokers,
  clientId: config.clientId ?? defaults.clientId,
  ssl: config.ssl,
  sasl: config.sasl,
  connectionTimeout: Duration.decode(config.connectionTimeout ?? defaults.connectionTimeout),
  requestTimeout: Duration.decode(config.requestTimeout ?? defaults.requestTimeout),
  retries: config.retries ?? defaults.retries,
  initialRetryTime: Duration.decode(config.initialRetryTime ?? defaults.initialRetryTime),
  maxRetryTime: Duration.decode(config.maxRetryTime ?? defaults.maxRetryTime),
  logLevel: config.logLevel ?? defaults.logLevel
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
 * Reads the environment: `KAFKA_BROKERS` (comma-separated, required), `KAFKA_CLIENT_ID`,
 * `KAFKA_SSL` (`true`/`false`), and `KAFKA_SASL_MECHANISM` + `KAFKA_SASL_USERNAME` +
 * `KAFKA_SASL_PASSWORD` together.
 *
 * @since 0.1.0
 */
export const fromEnv: Config.Config<KafkaJsConfig> = Config.all({
  brokers: brokerList,
  clientId: Config.option(Config.string("KAFKA_CLIENT_ID")),
  ssl: Config.boolean("KAFKA_SSL").pipe(Config.withDefault(false)),
  sasl
}).pipe(
  Config.map(
    ({ brokers, clientId, sasl, ssl }): KafkaJsConfig => ({
      brokers,
      clientId: Option.getOrUndefined(clientId),
      ssl,
      sasl: Option.getOrUndefined(sasl)
    })
  )
)
