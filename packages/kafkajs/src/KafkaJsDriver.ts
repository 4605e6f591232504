/**
 * The `ConsumerDriver` on kafkajs 2.2.4: one kafkajs client, consumer and admin per
 * `subscribe` (one group member each), explicit commits only, revocation before rejoin.
 *
 * @example
 * ```ts
 * import * as KafkaJsDriver from "@sluice/kafkajs/KafkaJsDriver"
 * import * as Layer from "effect/Layer"
 *
 * // From code …
 * const DriverLive = KafkaJsDriver.layer({ brokers: ["127.0.0.1:9092"] })
 * // … or from KAFKA_BROKERS (comma-separated) and KAFKA_CLIENT_ID.
 * const DriverFromEnv = KafkaJsDriver.layerConfig()
 * ```
 *
 * @since 0.1.0
 */
import { ConsumerDriver } from "@sluice/core/ConsumerDriver"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { subscribe } from "./internal/subscribe.js"
import * as KafkaJsConfig from "./KafkaJsConfig.js"

/**
 * Consumer tunables the `Subscription` does not carry.
 *
 * @since 0.1.0
 */
export interface ConsumerOptions {
  /**
   * Batches kafkajs hands over side by side (`partitionsConsumedConcurrently`). The driver
   * delivers them one at a time, and each returns at once, so this only lets one fetch's
   * batches overlap their conversion; it never adds parallel handlers.
   */
  readonly partitionsConsumedConcurrently?: number | undefined
  /** How long a fetch waits on the broker for data (`maxWaitTimeInMs`). */
  readonly maxWaitTime?: Duration.DurationInput | undefined
  /**
   * How many times in a row kafkajs may restart the member after a retriable crash before
   * the session fails. A restart joins as a new member; the crash reports the partitions
   * lost. Reset by every successful join.
   */
  readonly maxRestarts?: number | undefined
  /**
   * Whether subscribing to a missing topic creates it (when the broker allows). Off by
   * default: a misspelt topic then fails `subscribe` with a `protocol` error instead of
   * creating an empty topic to wait on.
   */
  readonly allowAutoTopicCreation?: boolean | undefined
  /** Read records of open and aborted transactions too. Off: `read_committed`. */
  readonly readUncommitted?: boolean | undefined
}

/** @since 0.1.0 */
export const consumerDefaults = {
  partitionsConsumedConcurrently: 64,
  maxWaitTime: Duration.millis(500),
  maxRestarts: 5,
  allowAutoTopicCreation: false,
  readUncommitted: false
} as const

/**
 * Builds the driver. Nothing connects until `subscribe`.
 *
 * @since 0.1.0
 */
export const make = (
  config: KafkaJsConfig.KafkaJsConfig,
  options: ConsumerOptions = {}
): Effect.Effect<ConsumerDriver["Type"]> =>
  Effect.sync(() => {
    const resolved = KafkaJsConfig.resolve(config)
    return {
      name: "kafkajs",
      subscribe: subscribe(resolved, {
        partitionsConsumedConcurrently:
          options.partitionsConsumedConcurrently ?? consumerDefaults.partitionsConsumedConcurrently,
        maxWaitTime: Duration.decode(options.maxWaitTime ?? consumerDefaults.maxWaitTime),
        maxRestarts: options.maxRestarts ?? consumerDefaults.maxRestarts,
        allowAutoTopicCreation: options.allowAutoTopicCreation ?? consumerDefaults.allowAutoTopicCreation,
        readUncommitted: options.readUncommitted ?? consumerDefaults.readUncommitted
      })
    }
  })

/**
 * @since 0.1.0
 */
export const layer = (config: KafkaJsConfig.KafkaJsConfig, options?: ConsumerOptions): Layer.Layer<ConsumerDriver> =>
  Layer.effect(ConsumerDriver, make(config, options))

/**
 * The driver with its connection settings read from `config` (by default the environment:
 * `KAFKA_BROKERS`, `KAFKA_CLIENT_ID`, … see `KafkaJsConfig.fromEnv`).
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config<KafkaJsConfig.KafkaJsConfig> = KafkaJsConfig.fromEnv,
  options?: ConsumerOptions
): Layer.Layer<ConsumerDriver, ConfigError.ConfigError> =>
  Layer.effect(
    ConsumerDriver,
    Effect.flatMap(config, (c) => make(c, options))
  )
