/**
 * The `ConsumerDriver` on kafkajs 2.2.4: one kafkajs client, consumer and admin per
 * `subscribe` (one group member each), explicit commits only, revocation before rejoin.
 *
 * Most programs use `KafkaJs.layer` / `KafkaJs.layerConfig`, which provide this driver with
 * the producer driver, the `Consumer` and the `Producer` from one set of options.
 *
 * @example
 * ```ts
 * import * as KafkaJsDriver from "@sluice/kafkajs/KafkaJsDriver"
 *
 * const DriverLive = KafkaJsDriver.layer({ brokers: ["127.0.0.1:9092"] }, { maxWaitTime: "200 millis" })
 * ```
 *
 * @since 0.1.0
 */
import { ConsumerDriver } from "@sluice/core/ConsumerDriver"
import * as SettingsConfig from "@sluice/core/SettingsConfig"
import type { SettingsError } from "@sluice/core/SettingsError"
import * as Validate from "@sluice/core/Validate"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { ConsumerOptions as Resolved } from "./internal/member.js"
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
   * The most bytes one fetch response may carry, over all its partitions (`maxBytes`, Kafka's
   * `fetch.max.bytes`; the broker still returns a first record batch larger than it). 1 MiB by
   * default, not kafkajs's 10 MiB.
   *
   * Why so small: kafkajs decodes a whole response in one stretch of the JavaScript thread,
   * and while the thread never returns to the event loop V8 cannot finish a concurrent marking
   * with a task. It finishes it later, from an allocation, and everything promoted meanwhile
   * survives that collection; the next one waits for about four times as much. On the
   * 1,000,000 × 100 B benchmark topic, 4 MiB responses left 24–33 MB after most full
   * collections and peaked at 234–290 MB of RSS; 1 MiB responses let every marking finish by a
   * task, left 16–20 MB and peaked at 174–188 MB, at the same or a higher rate. On a link with
   * a long round trip, raise it: kafkajs fetches from a broker one response at a time.
   */
  readonly maxBytes?: number | undefined
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

/**
 * What a `ConsumerOptions` leaves out.
 *
 * @since 0.1.0
 */
export const consumerDefaults = {
  partitionsConsumedConcurrently: 64,
  maxWaitTime: Duration.millis(500),
  maxBytes: 1_048_576,
  maxRestarts: 5,
  allowAutoTopicCreation: false,
  readUncommitted: false
} as const

/**
 * Checks consumer options and applies `consumerDefaults`: `partitionsConsumedConcurrently` an
 * integer from 1 to 1,000, `maxWaitTime` a positive duration, `maxBytes` a positive integer
 * (at most 2,147,483,647), `maxRestarts` a non-negative
 * integer, the switches `true` or `false`.
 *
 * @since 0.2.0
 */
export const validateOptions = (options: ConsumerOptions): Effect.Effect<Resolved, SettingsError> =>
  Effect.all({
    // kafkajs starts this many batch handlers per fetch; more than a broker has partitions
    // for one member would only be idle promises.
    partitionsConsumedConcurrently: Validate.positiveInt(
      "partitionsConsumedConcurrently",
      options.partitionsConsumedConcurrently ?? consumerDefaults.partitionsConsumedConcurrently,
      1_000
    ),
    maxWaitTime: Validate.optionalDuration("maxWaitTime", options.maxWaitTime, consumerDefaults.maxWaitTime),
    // A fetch request's max_bytes is an INT32.
    maxBytes: Validate.positiveInt("maxBytes", options.maxBytes ?? consumerDefaults.maxBytes, 2_147_483_647),
    maxRestarts: Validate.nonNegativeInt("maxRestarts", options.maxRestarts ?? consumerDefaults.maxRestarts),
    allowAutoTopicCreation: Validate.boolean(
      "allowAutoTopicCreation",
      options.allowAutoTopicCreation ?? consumerDefaults.allowAutoTopicCreation
    ),
    readUncommitted: Validate.boolean("readUncommitted", options.readUncommitted ?? consumerDefaults.readUncommitted)
  })

/**
 * Builds the driver. Nothing connects until `subscribe`; bad settings fail here with a
 * `SettingsError`.
 *
 * @since 0.1.0
 */
export const make = (
  config: KafkaJsConfig.KafkaJsConfig,
  options: ConsumerOptions = {}
): Effect.Effect<ConsumerDriver["Type"], SettingsError> =>
  Effect.zipWith(KafkaJsConfig.validate(config), validateOptions(options), (resolved, consumer) => ({
    name: "kafkajs",
    subscribe: subscribe(resolved, consumer)
  }))

/**
 * The driver as a layer.
 *
 * @since 0.1.0
 */
export const layer = (
  config: KafkaJsConfig.KafkaJsConfig,
  options?: ConsumerOptions
): Layer.Layer<ConsumerDriver, SettingsError> => Layer.effect(ConsumerDriver, make(config, options))

const { duration, number, optional } = SettingsConfig

/**
 * Reads the consumer options from configuration (the environment by default):
 * `KAFKA_PARTITIONS_CONSUMED_CONCURRENTLY`, `KAFKA_MAX_WAIT_TIME`, `KAFKA_MAX_BYTES`, `KAFKA_MAX_RESTARTS`,
 * `KAFKA_ALLOW_AUTO_TOPIC_CREATION`, `KAFKA_READ_UNCOMMITTED`.
 *
 * @since 0.2.0
 */
export const config: Config.Config<ConsumerOptions> = Config.nested(
  Config.all({
    partitionsConsumedConcurrently: optional(number("PARTITIONS_CONSUMED_CONCURRENTLY")),
    maxWaitTime: optional(duration("MAX_WAIT_TIME")),
    maxBytes: optional(number("MAX_BYTES")),
    maxRestarts: optional(number("MAX_RESTARTS")),
    allowAutoTopicCreation: optional(Config.boolean("ALLOW_AUTO_TOPIC_CREATION")),
    readUncommitted: optional(Config.boolean("READ_UNCOMMITTED"))
  }),
  SettingsConfig.prefix
)
