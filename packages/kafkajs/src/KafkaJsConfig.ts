/**
 * How to reach the brokers: the settings the kafkajs consumer and producer drivers (and the
 * admin client) share, with `defaults`, `validate` and a `Config` reader for the environment
 * (`KAFKA_BROKERS`, `KAFKA_CLIENT_ID`, …; docs/configuration.md has the table).
 *
 * @since 0.1.0
 */

import type { ConnectionOptions } from "node:tls"
import * as ClientConfig from "@sluice/core/ClientConfig"
import * as SettingsConfig from "@sluice/core/SettingsConfig"
import type { SettingsError } from "@sluice/core/SettingsError"
import * as Validate from "@sluice/core/Validate"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * The SASL mechanisms kafkajs supports without plug-ins (the ones every driver supports).
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
 * The lowest kafkajs log level that reaches Effect's logger.
 *
 * @since 0.1.0
 */
export type LogLevel = ClientConfig.LogLevel

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
export interface KafkaJsConfig extends ClientConfig.ClientConfig {
  /** `true` for TLS with the system's CAs, or Node's TLS options. */
  readonly ssl?: boolean | ConnectionOptions | undefined
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

/**
 * Checks a `KafkaJsConfig` and applies the defaults: the shared settings as
 * `ClientConfig.validate` checks them (brokers `host:port`, log level, SASL, clientId);
 * durations positive and at most 24 days; `retries` a non-negative integer. A bad value fails
 * with a `SettingsError` naming it.
 *
 * @since 0.2.0
 */
export const validate = (config: KafkaJsConfig): Effect.Effect<Resolved, SettingsError> =>
  Effect.gen(function* () {
    const shared = yield* ClientConfig.validate(config, defaults)
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
      ...shared,
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
      maxRetryTime
    } satisfies Resolved
  })

const { duration: durationConfig, number, optional } = SettingsConfig

/**
 * Reads the connection settings from configuration (the environment by default), under
 * `KAFKA_`: the shared ones (`ClientConfig.config`: `KAFKA_BROKERS` (comma-separated,
 * required), `KAFKA_CLIENT_ID`, `KAFKA_SSL`, `KAFKA_SASL_MECHANISM` + `KAFKA_SASL_USERNAME` +
 * `KAFKA_SASL_PASSWORD`, `KAFKA_CONNECTION_TIMEOUT`, `KAFKA_REQUEST_TIMEOUT`,
 * `KAFKA_LOG_LEVEL`) and kafkajs's `KAFKA_RETRIES`, `KAFKA_INITIAL_RETRY_TIME`,
 * `KAFKA_MAX_RETRY_TIME`. Values are checked by `validate`.
 *
 * @since 0.2.0
 */
export const config: Config.Config<KafkaJsConfig> = Config.map(
  Config.all([
    ClientConfig.config,
    Config.nested(
      Config.all({
        retries: optional(number("RETRIES")),
        initialRetryTime: optional(durationConfig("INITIAL_RETRY_TIME")),
        maxRetryTime: optional(durationConfig("MAX_RETRY_TIME"))
      }),
      SettingsConfig.prefix
    )
  ]),
  ([shared, own]): KafkaJsConfig => ({ ...shared, ...own })
)
