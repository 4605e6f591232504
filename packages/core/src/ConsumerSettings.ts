/**
 * Settings of a consumer: plain options with documented `defaults`, validated once at
 * construction (`make`) so that a bad value fails with a `SettingsError` naming the setting
 * and the value, and a `Config` reader for the environment (`KAFKA_GROUP_ID`,
 * `KAFKA_COMMIT_INTERVAL`, … see `config` and docs/configuration.md).
 *
 * A driver's layer (`KafkaJs.layer`, `KafkaJs.layerConfig`) builds the consumer from these;
 * `Consumer.layer` takes them directly.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Validate from "./internal/validate.js"
import { maxEncodableWindow } from "./OffsetMetadata.js"
import * as SettingsConfig from "./SettingsConfig.js"
import { SettingsError } from "./SettingsError.js"

export {
  /**
   * A setting was missing or out of range (see the `SettingsError` module).
   *
   * @since 0.1.0
   */
  SettingsError
}

/**
 * Let the records already started finish, for at most `drainTimeout`, then interrupt what
 * is left. No duplicates when the work finishes in time.
 *
 * @since 0.2.0
 */
export interface Drain {
  readonly _tag: "Drain"
  readonly drainTimeout: Duration.DurationInput
}

/**
 * Interrupt at once; finalizers run; the next owner repeats the interrupted records. The
 * fastest hand-over.
 *
 * @since 0.2.0
 */
export interface Interrupt {
  readonly _tag: "Interrupt"
}

/**
 * What happens to a partition's in-flight work when the partition is revoked: `Drain` or
 * `Interrupt`.
 *
 * @since 0.1.0
 */
export type RevocationStrategy = Drain | Interrupt

/**
 * Drain on revocation, for at most `drainTimeout` (10 seconds by default; it must be shorter
 * than `rebalanceTimeout`, checked by `make`).
 *
 * @since 0.1.0
 */
export const drain = (drainTimeout: Duration.DurationInput = "10 seconds"): RevocationStrategy => ({
  _tag: "Drain",
  drainTimeout
})

/**
 * Interrupt on revocation.
 *
 * @since 0.1.0
 */
export const interrupt: RevocationStrategy = { _tag: "Interrupt" }

/**
 * The validated settings of a consumer, every default filled in.
 *
 * @since 0.1.0
 */
export interface ConsumerSettings {
  /** The consumer group. Required. */
  readonly groupId: string
  /** Sent to the brokers to name this client in their logs and quotas. */
  readonly clientId: string
  /**
   * Static membership (KIP-345, `group.instance.id`): the member keeps its identity across
   * restarts, so a process restarted within the session timeout gets its partitions back and no
   * other member's partition moves. Unique within the group: give each process its own (e.g.
   * from the host name). Undefined: a dynamic member. Drivers that cannot (kafkajs) refuse it;
   * the simulated cluster treats every member as dynamic.
   */
  readonly groupInstanceId: string | undefined
  /**
   * Where a partition starts when the group has no committed offset for it. Sluice defaults
   * to `earliest`, unlike Kafka's `latest`: a new group that silently skips what was already
   * in the topic is the kind of loss this library exists to prevent.
   */
  readonly startFrom: "earliest" | "latest"
  /** Commit the finished frontier at least this often. */
  readonly commitInterval: Duration.Duration
  /** … and as soon as this many records finished since the last commit. */
  readonly commitEvery: number
  /** How many times a failed commit is retried when the driver says the failure is retriable. */
  readonly commitRetries: number
  /** The first back-off of a commit retry, doubled at each retry. */
  readonly commitRetryBase: Duration.Duration
  readonly revocation: RevocationStrategy
  readonly buffer: {
    /** Records buffered for one partition before it is paused at the driver. */
    readonly perPartition: number
    /** Records buffered across all partitions before partitions are paused. */
    readonly total: number
  }
  /**
   * Graceful shutdown (interruption) drains, commits and leaves within this deadline. The drain
   * takes at most half of it; the last commit retries a refusal for a rebalance for a quarter.
   */
  readonly shutdownTimeout: Duration.Duration
  /** The group expels a member that sent no heartbeat for this long. */
  readonly sessionTimeout: Duration.Duration
  /** How long a rebalance waits for the members to revoke and rejoin. */
  readonly rebalanceTimeout: Duration.Duration
  /** How often the member heartbeats (Kafka advises a third of the session timeout). */
  readonly heartbeatInterval: Duration.Duration
  /** Upper bound on one fetch per partition: how far a buffer can overshoot its limit. */
  readonly maxBytesPerPartition: number
  /**
   * Offsets between a partition's frontier and its highest received offset before the
   * partition is paused (the keyed and unordered modes let work run far ahead of a slow
   * record). At most 24,504 (`OffsetMetadata.maxEncodableWindow`), so that the finished
   * offsets always fit in the commit metadata.
   */
  readonly maxWindow: number
  /**
   * Whether the consumer reports its metrics (O2: records, partitions, commits, lag, tagged by
   * group, topic and partition). Off, nothing is counted or timed beyond the events.
   */
  readonly metrics: boolean
  /** How often the partitions' gauges (in flight, buffered, paused, committed, lag) and counts are reported. */
  readonly metricsInterval: Duration.Duration
}

/**
 * Every setting but `groupId` has a default.
 *
 * @since 0.1.0
 */
export const defaults: Omit<ConsumerSettings, "groupId"> = {
  clientId: "sluice",
  groupInstanceId: undefined,
  startFrom: "earliest",
  commitInterval: Duration.seconds(1),
  commitEvery: 1_000,
  commitRetries: 5,
  commitRetryBase: Duration.millis(100),
  revocation: drain(Duration.seconds(10)),
  buffer: { perPartition: 1_000, total: 10_000 },
  shutdownTimeout: Duration.seconds(30),
  sessionTimeout: Duration.seconds(30),
  rebalanceTimeout: Duration.seconds(60),
  heartbeatInterval: Duration.seconds(3),
  maxBytesPerPartition: 1_048_576,
  maxWindow: 10_000,
  metrics: true,
  metricsInterval: Duration.seconds(1)
}

/**
 * The options `make` accepts: `groupId` and any defaults to override. Durations may be
 * given as `DurationInput` ("5 seconds", 5000, …).
 *
 * @since 0.1.0
 */
export interface Input {
  readonly groupId: string
  readonly clientId?: string | undefined
  readonly groupInstanceId?: string | undefined
  readonly startFrom?: "earliest" | "latest" | undefined
  readonly commitInterval?: Duration.DurationInput | undefined
  readonly commitEvery?: number | undefined
  readonly commitRetries?: number | undefined
  readonly commitRetryBase?: Duration.DurationInput | undefined
  readonly revocation?: RevocationStrategy | undefined
  readonly buffer?: { readonly perPartition?: number | undefined; readonly total?: number | undefined } | undefined
  readonly shutdownTimeout?: Duration.DurationInput | undefined
  readonly sessionTimeout?: Duration.DurationInput | undefined
  readonly rebalanceTimeout?: Duration.DurationInput | undefined
  readonly heartbeatInterval?: Duration.DurationInput | undefined
  readonly maxBytesPerPartition?: number | undefined
  readonly maxWindow?: number | undefined
  readonly metrics?: boolean | undefined
  readonly metricsInterval?: Duration.DurationInput | undefined
}

const revocationOf = (input: unknown): Effect.Effect<RevocationStrategy, SettingsError> => {
  const strategy = (input ?? defaults.revocation) as RevocationStrategy
  switch ((strategy as { readonly _tag?: unknown } | null)?._tag) {
    case "Interrupt":
      return Effect.succeed(interrupt)
    case "Drain":
      return Effect.map(Validate.duration("revocation.drainTimeout", (strategy as Drain).drainTimeout), drain)
    default:
      return Validate.fail(
        "revocation",
        `revocation must be ConsumerSettings.drain(…) or interrupt, got ${Validate.show(strategy)}`
      )
  }
}

/**
 * Validates `input` and fills in the defaults.
 *
 * @example
 * ```ts
 * import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
 *
 * const settings = ConsumerSettings.make({ groupId: "billing", revocation: ConsumerSettings.drain("5 seconds") })
 * ```
 *
 * @since 0.1.0
 */
export const make = (input: Input): Effect.Effect<ConsumerSettings, SettingsError> =>
  Effect.gen(function* () {
    const groupId = yield* Validate.name("groupId", input.groupId)
    const clientId = input.clientId === undefined ? defaults.clientId : yield* Validate.name("clientId", input.clientId)
    const startFrom = yield* Validate.oneOf("startFrom", input.startFrom ?? defaults.startFrom, ["earliest", "latest"])
    const revocation = yield* revocationOf(input.revocation)
    const perPartition = yield* Validate.positiveInt(
      "buffer.perPartition",
      input.buffer?.perPartition ?? defaults.buffer.perPartition
    )
    const total = yield* Validate.positiveInt("buffer.total", input.buffer?.total ?? defaults.buffer.total)
    if (total < perPartition) {
      return yield* Validate.fail(
        "buffer.total",
        `buffer.total (${total}) must be at least buffer.perPartition (${perPartition})`
      )
    }
    const sessionTimeout = yield* Validate.optionalDuration(
      "sessionTimeout",
      input.sessionTimeout,
      defaults.sessionTimeout
    )
    const heartbeatInterval = yield* Validate.optionalDuration(
      "heartbeatInterval",
      input.heartbeatInterval,
      defaults.heartbeatInterval
    )
    if (Duration.greaterThanOrEqualTo(heartbeatInterval, sessionTimeout)) {
      return yield* Validate.fail(
        "heartbeatInterval",
        `heartbeatInterval (${Duration.format(heartbeatInterval)}) must be shorter than sessionTimeout (${Duration.format(sessionTimeout)}); Kafka advises a third of it`
      )
    }
    const rebalanceTimeout = yield* Validate.optionalDuration(
      "rebalanceTimeout",
      input.rebalanceTimeout,
      defaults.rebalanceTimeout
    )
    // The rebalance waits for the revocation; past the rebalance timeout the coordinator
    // completes it without this member, and the drain would no longer protect anything.
    if (revocation._tag === "Drain" && Duration.greaterThanOrEqualTo(revocation.drainTimeout, rebalanceTimeout)) {
      return yield* Validate.fail(
        "revocation.drainTimeout",
        `revocation.drainTimeout (${Duration.format(Duration.decode(revocation.drainTimeout))}) must be shorter than rebalanceTimeout (${Duration.format(rebalanceTimeout)}): the rebalance waits for the drain`
      )
    }
    const maxWindow = yield* Validate.positiveInt("maxWindow", input.maxWindow ?? defaults.maxWindow)
    if (maxWindow > maxEncodableWindow) {
      return yield* Validate.fail(
        "maxWindow",
        `maxWindow must be at most ${maxEncodableWindow} so that the commit metadata fits in 4,096 bytes, got ${maxWindow}`
      )
    }
    return {
      groupId,
      clientId,
      groupInstanceId:
        input.groupInstanceId === undefined
          ? undefined
          : yield* Validate.name("groupInstanceId", input.groupInstanceId),
      startFrom,
      commitInterval: yield* Validate.optionalDuration("commitInterval", input.commitInterval, defaults.commitInterval),
      commitEvery: yield* Validate.positiveInt("commitEvery", input.commitEvery ?? defaults.commitEvery),
      commitRetries: yield* Validate.nonNegativeInt("commitRetries", input.commitRetries ?? defaults.commitRetries),
      commitRetryBase: yield* Validate.optionalDuration(
        "commitRetryBase",
        input.commitRetryBase,
        defaults.commitRetryBase
      ),
      revocation,
      buffer: { perPartition, total },
      shutdownTimeout: yield* Validate.optionalDuration(
        "shutdownTimeout",
        input.shutdownTimeout,
        defaults.shutdownTimeout
      ),
      sessionTimeout,
      rebalanceTimeout,
      heartbeatInterval,
      // The fetch request carries it as an INT32.
      maxBytesPerPartition: yield* Validate.positiveInt(
        "maxBytesPerPartition",
        input.maxBytesPerPartition ?? defaults.maxBytesPerPartition,
        Validate.maxInt32
      ),
      maxWindow,
      metrics: yield* Validate.boolean("metrics", input.metrics ?? defaults.metrics),
      metricsInterval: yield* Validate.optionalDuration(
        "metricsInterval",
        input.metricsInterval,
        defaults.metricsInterval
      )
    } satisfies ConsumerSettings
  })

const { duration, number, optional } = SettingsConfig

/**
 * Reads the settings from configuration (the environment by default), every name under
 * `KAFKA_`: `KAFKA_GROUP_ID` (required), `KAFKA_CLIENT_ID`, `KAFKA_GROUP_INSTANCE_ID`, `KAFKA_START_FROM`,
 * `KAFKA_COMMIT_INTERVAL`, `KAFKA_COMMIT_EVERY`, `KAFKA_COMMIT_RETRIES`,
 * `KAFKA_COMMIT_RETRY_BASE`, `KAFKA_REVOCATION` (`drain` or `interrupt`),
 * `KAFKA_DRAIN_TIMEOUT` (implies `drain`), `KAFKA_BUFFER_PER_PARTITION`,
 * `KAFKA_BUFFER_TOTAL`, `KAFKA_SHUTDOWN_TIMEOUT`, `KAFKA_SESSION_TIMEOUT`,
 * `KAFKA_REBALANCE_TIMEOUT`, `KAFKA_HEARTBEAT_INTERVAL`, `KAFKA_MAX_BYTES_PER_PARTITION`,
 * `KAFKA_MAX_WINDOW`, `KAFKA_METRICS` (`true` or `false`), `KAFKA_METRICS_INTERVAL`. Durations are `"5 seconds"` or milliseconds. docs/configuration.md
 * has the table.
 *
 * Values are validated by `make`: a bad one fails with a `SettingsError`.
 *
 * @since 0.1.0
 */
export const config: Config.Config<Input> = Config.nested(
  Config.all({
    groupId: Config.string("GROUP_ID"),
    clientId: optional(Config.string("CLIENT_ID")),
    groupInstanceId: optional(Config.string("GROUP_INSTANCE_ID")),
    startFrom: optional(Config.literal("earliest", "latest")("START_FROM")),
    commitInterval: optional(duration("COMMIT_INTERVAL")),
    commitEvery: optional(number("COMMIT_EVERY")),
    commitRetries: optional(number("COMMIT_RETRIES")),
    commitRetryBase: optional(duration("COMMIT_RETRY_BASE")),
    revocation: optional(Config.literal("drain", "interrupt")("REVOCATION")),
    drainTimeout: optional(duration("DRAIN_TIMEOUT")),
    buffer: Config.nested(
      Config.all({ perPartition: optional(number("PER_PARTITION")), total: optional(number("TOTAL")) }),
      "BUFFER"
    ),
    shutdownTimeout: optional(duration("SHUTDOWN_TIMEOUT")),
    sessionTimeout: optional(duration("SESSION_TIMEOUT")),
    rebalanceTimeout: optional(duration("REBALANCE_TIMEOUT")),
    heartbeatInterval: optional(duration("HEARTBEAT_INTERVAL")),
    maxBytesPerPartition: optional(number("MAX_BYTES_PER_PARTITION")),
    maxWindow: optional(number("MAX_WINDOW")),
    metrics: optional(Config.boolean("METRICS")),
    metricsInterval: optional(duration("METRICS_INTERVAL"))
  }),
  SettingsConfig.prefix
).pipe(
  Config.mapOrFail(({ drainTimeout, revocation, ...rest }) => {
    if (revocation === "interrupt" && drainTimeout !== undefined) {
      return Either.left(
        ConfigError.InvalidData(
          [SettingsConfig.prefix, "DRAIN_TIMEOUT"],
          "a drain timeout has no meaning with KAFKA_REVOCATION=interrupt"
        )
      )
    }
    // A drain timeout alone means drain: it is the default strategy, only its timeout changes.
    const strategy =
      revocation === "interrupt"
        ? interrupt
        : revocation === "drain" || drainTimeout !== undefined
          ? drain(drainTimeout)
          : undefined
    return Either.right({ ...rest, revocation: strategy })
  })
)
