/**
 * The `ConsumerDriver` on `@confluentinc/kafka-javascript` 1.10 (librdkafka 2.15): one native
 * `KafkaConsumer` per `subscribe` (one group member each), explicit commits only, revocations
 * held until the engine is done, and the three ways a group can rebalance:
 *
 * - `classic` protocol with an eager assignor (`range`, `roundrobin`): every rebalance
 *   revokes everything, as with kafkajs;
 * - `classic` protocol with `cooperative-sticky`: a rebalance revokes only the partitions that
 *   move;
 * - `consumer` protocol (KIP-848, Kafka 4.0+ brokers): the broker assigns, incrementally, with
 *   no join barrier.
 *
 * The consumer settings' `groupInstanceId` (`ConsumerSettings`, carried by each
 * `Subscription`) makes the member static (KIP-345): restarted within the session timeout, it
 * gets its partitions back without a rebalance.
 *
 * @example
 * ```ts
 * import * as ConfluentDriver from "@sluice/confluent/ConfluentDriver"
 *
 * // Cooperative-sticky on the classic protocol (the default) …
 * const Cooperative = ConfluentDriver.layer({ brokers: ["127.0.0.1:9092"] })
 * // … KIP-848, static …
 * const Kip848 = ConfluentDriver.layer(
 *   { brokers: ["127.0.0.1:9092"] },
 *   { groupProtocol: "consumer" }
 * )
 * // … or from KAFKA_BROKERS (comma-separated) and KAFKA_CLIENT_ID.
 * const FromEnv = ConfluentDriver.layerConfig()
 * ```
 *
 * @since 0.1.0
 */
import { ConsumerDriver } from "@sluice/core/ConsumerDriver"
import * as SettingsConfig from "@sluice/core/SettingsConfig"
import { SettingsError } from "@sluice/core/SettingsError"
import * as Validate from "@sluice/core/Validate"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ConfluentConfig from "./ConfluentConfig.js"
import * as Properties from "./internal/properties.js"
import { subscribe } from "./internal/subscribe.js"

/**
 * The group protocol: `classic` (JoinGroup/SyncGroup, the client assigns) or `consumer`
 * (KIP-848: the broker assigns; Kafka 4.0+).
 *
 * @since 0.1.0
 */
export type GroupProtocol = "classic" | "consumer"

/**
 * The client-side assignor of the classic protocol. `cooperative-sticky` rebalances
 * incrementally; `range` and `roundrobin` are eager.
 *
 * @since 0.1.0
 */
export type Assignor = "range" | "roundrobin" | "cooperative-sticky"

/**
 * Consumer settings the `Subscription` does not carry.
 *
 * @since 0.1.0
 */
export interface ConsumerOptions {
  /** `classic` by default: it works with every broker; `consumer` needs Kafka 4.0 or later. */
  readonly groupProtocol?: GroupProtocol | undefined
  /**
   * Classic protocol only (`partition.assignment.strategy`); `cooperative-sticky` by default.
   * Refused with the consumer protocol, where the broker assigns (see `remoteAssignor`).
   */
  readonly assignor?: Assignor | undefined
  /**
   * Consumer protocol only (`group.remote.assignor`): the broker's assignor, `uniform` or
   * `range`; the broker's default when left out. Refused with the classic protocol.
   */
  readonly remoteAssignor?: "uniform" | "range" | undefined
  /**
   * Records one poll takes from librdkafka at most (`consume(n)`); 4,000 by default. A poll
   * returns what librdkafka has ready, so a larger one only matters at throughput, where it
   * spreads the cost of each poll and hand-over over more records (1,000,000 records of 100 B:
   * 281–290 k records/s with 1,000, 306–313 k with 2,000, 316 k with 4,000, 308–319 k with 6,000;
   * docs/benchmarks.md).
   */
  readonly batchSize?: number | undefined
  /** How long a poll waits for a first record: an idle member polls this often. */
  readonly pollTimeout?: Duration.DurationInput | undefined
  /** How long a fetch waits on the broker for data (`fetch.wait.max.ms`). */
  readonly fetchWait?: Duration.DurationInput | undefined
  /**
   * What librdkafka prefetches for the member, in KiB, across partitions
   * (`queued.max.messages.kbytes`): with the engine's buffers, this bounds the memory records
   * take.
   */
  readonly fetchQueueKbytes?: number | undefined
  /**
   * How long librdkafka postpones the next fetch of a partition once its prefetch queue is full
   * (`fetch.queue.backoff.ms`). 100 ms by default, where librdkafka's is 1 s: with its 1 s a
   * member that drains the queue fast waits out the rest of the second with nothing to
   * hand over (1,000,000 records of 100 B: 160,000 records/s, and 226,000 with 100 ms).
   */
  readonly fetchQueueBackoff?: Duration.DurationInput | undefined
  /**
   * Whether subscribing to a missing topic creates it (when the broker allows). Off by
   * default: a misspelt topic then fails `subscribe` with a `protocol` error.
   */
  readonly allowAutoTopicCreation?: boolean | undefined
  /** Read records of open and aborted transactions too. Off: `read_committed`. */
  readonly readUncommitted?: boolean | undefined
  /**
   * The rejoin watchdog: how long a member that owns no partition may stay out of its group (no
   * coordinator, or no assignment taken, as librdkafka's statistics report it) before the driver
   * replaces its librdkafka client with a new one that joins afresh, provided the cluster answers.
   * By default the rebalance timeout plus the session timeout plus `requestTimeout`; `"off"` turns
   * it off. It sets `statistics.interval.ms` unless `librdkafka` does (0 there turns it off too).
   * Why: a librdkafka member was seen to stay without its coordinator for minutes after a restart
   * of the whole cluster while every broker answered again (docs/failover.md).
   */
  readonly rejoinTimeout?: Duration.DurationInput | "off" | undefined
}

/**
 * The defaults fill what `ConsumerOptions` leaves out: the classic protocol with
 * `cooperative-sticky`, `read_committed`, no topic creation on subscribe.
 *
 * @since 0.1.0
 */
export const consumerDefaults = {
  groupProtocol: "classic" as GroupProtocol,
  assignor: "cooperative-sticky" as Assignor,
  batchSize: 4000,
  pollTimeout: Duration.millis(100),
  fetchWait: Duration.millis(500),
  fetchQueueKbytes: 16384,
  fetchQueueBackoff: Duration.millis(100),
  allowAutoTopicCreation: false,
  readUncommitted: false
} as const

const assignors = ["range", "roundrobin", "cooperative-sticky"] as const satisfies ReadonlyArray<Assignor>

const invalid = (setting: string, message: string) => Effect.fail(new SettingsError({ setting, message }))

const positive = (setting: string, value: number): Effect.Effect<number, SettingsError> =>
  Number.isInteger(value) && value > 0
    ? Effect.succeed(value)
    : invalid(setting, `${setting} must be a positive integer, got ${value}`)

/**
 * The options with their defaults, or a `SettingsError` naming the first that is out of range
 * or ignored by the chosen group protocol.
 *
 * @since 0.1.0
 */
export const resolveOptions = (
  options: ConsumerOptions = {}
): Effect.Effect<Properties.ConsumerOptions, SettingsError> =>
  Effect.gen(function* () {
    const groupProtocol = options.groupProtocol ?? consumerDefaults.groupProtocol
    if (groupProtocol !== "classic" && groupProtocol !== "consumer") {
      return yield* invalid(
        "groupProtocol",
        `groupProtocol must be "classic" or "consumer", got ${String(groupProtocol)}`
      )
    }
    if (groupProtocol === "consumer" && options.assignor !== undefined) {
      return yield* invalid(
        "assignor",
        'assignor is ignored by the consumer group protocol (KIP-848), where the broker assigns: use remoteAssignor, or groupProtocol "classic"'
      )
    }
    if (groupProtocol === "classic" && options.remoteAssignor !== undefined) {
      return yield* invalid(
        "remoteAssignor",
        'remoteAssignor is for the consumer group protocol (KIP-848) only: use assignor, or groupProtocol "consumer"'
      )
    }
    const assignor = options.assignor ?? consumerDefaults.assignor
    if (!(assignors as ReadonlyArray<string>).includes(assignor)) {
      return yield* invalid("assignor", `assignor must be one of ${assignors.join(", ")}, got ${String(assignor)}`)
    }
    if (
      options.remoteAssignor !== undefined &&
      options.remoteAssignor !== "uniform" &&
      options.remoteAssignor !== "range"
    ) {
      return yield* invalid(
        "remoteAssignor",
        `remoteAssignor must be "uniform" or "range", got ${String(options.remoteAssignor)}`
      )
    }
    return {
      groupProtocol,
      assignor,
      remoteAssignor: options.remoteAssignor,
      batchSize: yield* positive("batchSize", options.batchSize ?? consumerDefaults.batchSize),
      pollTimeout: yield* Validate.optionalDuration("pollTimeout", options.pollTimeout, consumerDefaults.pollTimeout),
      fetchWait: yield* Validate.optionalDuration("fetchWait", options.fetchWait, consumerDefaults.fetchWait),
      fetchQueueKbytes: yield* positive(
        "fetchQueueKbytes",
        options.fetchQueueKbytes ?? consumerDefaults.fetchQueueKbytes
      ),
      fetchQueueBackoff: yield* Validate.optionalDuration(
        "fetchQueueBackoff",
        options.fetchQueueBackoff,
        consumerDefaults.fetchQueueBackoff
      ),
      allowAutoTopicCreation: options.allowAutoTopicCreation ?? consumerDefaults.allowAutoTopicCreation,
      readUncommitted: options.readUncommitted ?? consumerDefaults.readUncommitted,
      rejoinTimeout:
        options.rejoinTimeout === undefined
          ? undefined
          : options.rejoinTimeout === "off"
            ? Duration.infinity
            : yield* Validate.duration("rejoinTimeout", options.rejoinTimeout)
    }
  })

/**
 * Builds the driver, or fails with a `SettingsError` naming a setting that is out of range,
 * ignored by the chosen group protocol, or (in `config.librdkafka`) one the driver sets
 * itself. Nothing connects until `subscribe`.
 *
 * @since 0.1.0
 */
export const make = (
  config: ConfluentConfig.ConfluentConfig,
  options: ConsumerOptions = {}
): Effect.Effect<ConsumerDriver["Type"], SettingsError> =>
  Effect.gen(function* () {
    const connection = yield* ConfluentConfig.validate(config)
    const resolved = yield* resolveOptions(options)
    const refused = Properties.refusedForConsumer(config, resolved)
    if (refused !== undefined) return yield* Effect.fail(refused)
    return { name: "confluent", subscribe: subscribe(connection, resolved) }
  })

/**
 * The `ConsumerDriver` from connection settings and consumer options; building the layer
 * fails with a `SettingsError` when `make` does.
 *
 * @since 0.1.0
 */
export const layer = (
  config: ConfluentConfig.ConfluentConfig,
  options?: ConsumerOptions
): Layer.Layer<ConsumerDriver, SettingsError> => Layer.effect(ConsumerDriver, make(config, options))

/**
 * The driver with its connection settings read from `config` (by default the environment:
 * `KAFKA_BROKERS`, `KAFKA_CLIENT_ID`, … see `ConfluentConfig.config`).
 *
 * @since 0.1.0
 */
export const layerConfig = (
  source: Config.Config<ConfluentConfig.ConfluentConfig> = ConfluentConfig.config,
  options?: ConsumerOptions
): Layer.Layer<ConsumerDriver, ConfigError.ConfigError | SettingsError> =>
  Layer.effect(
    ConsumerDriver,
    Effect.flatMap(source, (c) => make(c, options))
  )

const { duration, number, optional } = SettingsConfig

/**
 * Reads the consumer options from configuration (the environment by default):
 * `KAFKA_GROUP_PROTOCOL` (`classic`/`consumer`), `KAFKA_ASSIGNOR`, `KAFKA_REMOTE_ASSIGNOR`,
 * `KAFKA_BATCH_SIZE`, `KAFKA_POLL_TIMEOUT`, `KAFKA_FETCH_WAIT`,
 * `KAFKA_FETCH_QUEUE_KBYTES`, `KAFKA_FETCH_QUEUE_BACKOFF`, `KAFKA_ALLOW_AUTO_TOPIC_CREATION`, `KAFKA_READ_UNCOMMITTED`,
 * `KAFKA_REJOIN_TIMEOUT` (a duration, or `off`).
 * Values are checked by `resolveOptions`.
 *
 * @since 0.2.0
 */
export const config: Config.Config<ConsumerOptions> = Config.nested(
  Config.all({
    groupProtocol: optional(Config.literal("classic", "consumer")("GROUP_PROTOCOL")),
    assignor: optional(Config.literal(...assignors)("ASSIGNOR")),
    remoteAssignor: optional(Config.literal("uniform", "range")("REMOTE_ASSIGNOR")),
    batchSize: optional(number("BATCH_SIZE")),
    pollTimeout: optional(duration("POLL_TIMEOUT")),
    fetchWait: optional(duration("FETCH_WAIT")),
    fetchQueueKbytes: optional(number("FETCH_QUEUE_KBYTES")),
    fetchQueueBackoff: optional(duration("FETCH_QUEUE_BACKOFF")),
    allowAutoTopicCreation: optional(Config.boolean("ALLOW_AUTO_TOPIC_CREATION")),
    readUncommitted: optional(Config.boolean("READ_UNCOMMITTED")),
    rejoinTimeout: optional(Config.orElse(Config.literal("off")("REJOIN_TIMEOUT"), () => duration("REJOIN_TIMEOUT")))
  }),
  SettingsConfig.prefix
)
