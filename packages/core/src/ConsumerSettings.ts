/**
 * Settings of a consumer: plain options with documented `defaults`, validated once at
 * construction (`make`) so that a bad value fails with a `SettingsError` naming the setting,
 * and a `Config` reader for the environment (`KAFKA_GROUP_ID`, `SLUICE_COMMIT_INTERVAL`, …).
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { maxEncodableWindow } from "./OffsetMetadata.js"

/**
 * A setting was missing or out of range. `setting` is its path, e.g. `"buffer.perPartition"`.
 *
 * @since 0.1.0
 */
export class SettingsError extends Data.TaggedError("SettingsError")<{
  readonly setting: string
  readonly message: string
}> {}

/**
 * What happens to a partition's in-flight work when the partition is revoked.
 *
 * - `drain`: let the records already started finish, for at most `drainTimeout`, then
 *   interrupt what is left. No duplicates when the work finishes in time.
 * - `interrupt`: interrupt at once; finalizers run; the next owner repeats the interrupted
 *   records. The fastest hand-over.
 *
 * @since 0.1.0
 */
export type RevocationStrategy =
  | { readonly _tag: "drain"; readonly drainTimeout: Duration.Duration }
  | { readonly _tag: "interrupt" }

/** @since 0.1.0 */
export const drain = (drainTimeout: Duration.DurationInput = "10 seconds"): RevocationStrategy => ({
  _tag: "drain",
  drainTimeout: Duration.decode(drainTimeout)
})

/** @since 0.1.0 */
export const interrupt: RevocationStrategy = { _tag: "interrupt" }

/**
 * @since 0.1.0
 */
export interface ConsumerSettings {
  /** The consumer group. Required. */
  readonly groupId: string
  /** Sent to the brokers to name this client in their logs and quotas. */
  readonly clientId: string
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
  /** How a failed commit is retried when the driver says the failure is retriable. */
  readonly commitRetries: number
  readonly commitRetryBase: Duration.Duration
  readonly revocation: RevocationStrategy
  readonly buffer: {
    /** Records buffered for one partition before it is paused at the driver. */
    readonly perPartition: number
    /** Records buffered across all partitions before partitions are paused. */
    readonly total: number
  }
  /** Graceful shutdown (interruption) drains, commits and leaves within this deadline. */
  readonly shutdownTimeout: Duration.Duration
  readonly sessionTimeout: Duration.Duration
  readonly rebalanceTimeout: Duration.Duration
  readonly heartbeatInterval: Duration.Duration
  /** Upper bound on one fetch per partition: how far a buffer can overshoot its limit. */
  readonly maxBytesPerPartition: number
  /**
   * Offsets between a partition's frontier and its highest received offset before the
   * partition is paused (the keyed and unordered modes let work run far ahead of a slow
   * record). At most 24,504 (`OffsetMetadata.maxEncodableWindow`), so that the finished offsets always fit in the commit metadata.
   */
  readonly maxWindow: number
}

/**
 * Every setting but `groupId` has a default.
 *
 * @since 0.1.0
 */
export const defaults: Omit<ConsumerSettings, "groupId"> = {
  clientId: "sluice",
  startFrom: "earliest",
  commitInterval: Duration.seconds(1),
  commitEvery: 1_000,
  commitRetries: 5,
  commitRetryBase: Duration.millis(100),
  revocation: drain("10 seconds"),
  buffer: { perPartition: 1_000, total: 10_000 },
  shutdownTimeout: Duration.seconds(30),
  sessionTimeout: Duration.seconds(30),
  rebalanceTimeout: Duration.seconds(60),
  heartbeatInterval: Duration.seconds(3),
  maxBytesPerPartition: 1_048_576,
  maxWindow: 10_000
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
}

const positiveInt = (setting: string, value: number): Effect.Effect<number, SettingsError> =>
  Number.isSafeInteger(value) && value > 0
    ? Effect.succeed(value)
    : Effect.fail(new SettingsError({ setting, message: `${setting} must be a positive integer, got ${value}` }))

const nonNegativeInt = (setting: string, value: number): Effect.Effect<number, SettingsError> =>
  Number.isSafeInteger(value) && value >= 0
    ? Effect.succeed(value)
    : Effect.fail(new SettingsError({ setting, message: `${setting} must be a non-negative integer, got ${value}` }))

const positiveDuration = (
  setting: string,
  input: Duration.DurationInput | undefined,
  fallback: Duration.Duration
): Effect.Effect<Duration.Duration, SettingsError> => {
  if (input === undefined) return Effect.succeed(fallback)
  const decoded = Duration.decodeUnknown(input)
  return Option.match(decoded, {
    onNone: () =>
      Effect.fail(new SettingsError({ setting, message: `${setting} is not a duration: ${String(input)}` })),
    onSome: (duration) =>
      Duration.isFinite(duration) && Duration.toMillis(duration) > 0
        ? Effect.succeed(duration)
        : Effect.fail(
            new SettingsError({
              setting,
              message: `${setting} must be a finite positive duration, got ${String(input)}`
            })
          )
  })
}

/**
 * Validates `input` and fills in the defaults.
 *
 * @example
 * ```ts
 * const settings = ConsumerSettings.make({ groupId: "billing", revocation: ConsumerSettings.drain("5 seconds") })
 * ```
 *
 * @since 0.1.0
 */
export const make = (input: Input): Effect.Effect<ConsumerSettings, SettingsError> =>
  Effect.gen(function* () {
    if (typeof input.groupId !== "string" || input.groupId.trim() === "") {
      return yield* new SettingsError({ setting: "groupId", message: "groupId must be a non-empty string" })
    }
    const startFrom = input.startFrom ?? defaults.startFrom
    if (startFrom !== "earliest" && startFrom !== "latest") {
      return yield* new SettingsError({
        setting: "startFrom",
        message: `startFrom must be "earliest" or "latest", got ${String(startFrom)}`
      })
    }
    const revocation = input.revocation ?? defaults.revocation
    if (revocation._tag === "drain") {
      yield* positiveDuration("revocation.drainTimeout", revocation.drainTimeout, revocation.drainTimeout)
    } else if (revocation._tag !== "interrupt") {
      return yield* new SettingsError({ setting: "revocation", message: "revocation must be drain(…) or interrupt" })
    }
    const perPartition = yield* positiveInt(
      "buffer.perPartition",
      input.buffer?.perPartition ?? defaults.buffer.perPartition
    )
    const total = yield* positiveInt("buffer.total", input.buffer?.total ?? defaults.buffer.total)
    if (total < perPartition) {
      return yield* new SettingsError({
        setting: "buffer.total",
        message: `buffer.total (${total}) must be at least buffer.perPartition (${perPartition})`
      })
    }
    const sessionTimeout = yield* positiveDuration("sessionTimeout", input.sessionTimeout, defaults.sessionTimeout)
    const heartbeatInterval = yield* positiveDuration(
      "heartbeatInterval",
      input.heartbeatInterval,
      defaults.heartbeatInterval
    )
    if (Duration.greaterThanOrEqualTo(heartbeatInterval, sessionTimeout)) {
      return yield* new SettingsError({
        setting: "heartbeatInterval",
        message: "heartbeatInterval must be shorter than sessionTimeout (Kafka advises a third of it)"
      })
    }
    const rebalanceTimeout = yield* positiveDuration(
      "rebalanceTimeout",
      input.rebalanceTimeout,
      defaults.rebalanceTimeout
    )
    // The rebalance waits for the revocation; past the rebalance timeout the coordinator
    // completes it without this member, and the drain would no longer protect anything.
    if (revocation._tag === "drain" && Duration.greaterThanOrEqualTo(revocation.drainTimeout, rebalanceTimeout)) {
      return yield* new SettingsError({
        setting: "revocation.drainTimeout",
        message: "revocation.drainTimeout must be shorter than rebalanceTimeout: the rebalance waits for the drain"
      })
    }
    const maxWindow = yield* positiveInt("maxWindow", input.maxWindow ?? defaults.maxWindow)
    if (maxWindow > maxEncodableWindow) {
      return yield* new SettingsError({
        setting: "maxWindow",
        message: `maxWindow must be at most ${maxEncodableWindow} so that the commit metadata fits in 4,096 bytes, got ${maxWindow}`
      })
    }
    return {
      groupId: input.groupId,
      maxWindow,
      clientId: input.clientId ?? defaults.clientId,
      startFrom,
      commitInterval: yield* positiveDuration("commitInterval", input.commitInterval, defaults.commitInterval),
      commitEvery: yield* positiveInt("commitEvery", input.commitEvery ?? defaults.commitEvery),
      commitRetries: yield* nonNegativeInt("commitRetries", input.commitRetries ?? defaults.commitRetries),
      commitRetryBase: yield* positiveDuration("commitRetryBase", input.commitRetryBase, defaults.commitRetryBase),
      revocation,
      buffer: { perPartition, total },
      shutdownTimeout: yield* positiveDuration("shutdownTimeout", input.shutdownTimeout, defaults.shutdownTimeout),
      sessionTimeout,
      rebalanceTimeout,
      heartbeatInterval,
      maxBytesPerPartition: yield* positiveInt(
        "maxBytesPerPartition",
        input.maxBytesPerPartition ?? defaults.maxBytesPerPartition
      )
    } satisfies ConsumerSettings
  })

/**
 * Reads the settings from configuration (the environment by default):
 *
 * | variable | setting |
 * |---|---|
 * | `KAFKA_GROUP_ID` | groupId (required) |
 * | `KAFKA_CLIENT_ID` | clientId |
 * | `SLUICE_START_FROM` | startFrom (`earliest` / `latest`) |
 * | `SLUICE_COMMIT_INTERVAL` | commitInterval (e.g. `1 second`) |
 * | `SLUICE_COMMIT_EVERY` | commitEvery |
 * | `SLUICE_REVOCATION` | `drain` or `interrupt` |
 * | `SLUICE_DRAIN_TIMEOUT` | revocation drain timeout |
 * | `SLUICE_BUFFER_PER_PARTITION`, `SLUICE_BUFFER_TOTAL` | buffer limits |
 * | `SLUICE_SHUTDOWN_TIMEOUT` | shutdownTimeout |
 * | `KAFKA_SESSION_TIMEOUT` | sessionTimeout |
 *
 * Values are validated like `make`'s; a bad one fails with `SettingsError`.
 *
 * @since 0.1.0
 */
export const config: Config.Config<Input> = Config.all({
  groupId: Config.string("KAFKA_GROUP_ID"),
  clientId: Config.option(Config.string("KAFKA_CLIENT_ID")),
  startFrom: Config.option(Config.literal("earliest", "latest")("SLUICE_START_FROM")),
  commitInterval: Config.option(Config.duration("SLUICE_COMMIT_INTERVAL")),
  commitEvery: Config.option(Config.integer("SLUICE_COMMIT_EVERY")),
  revocation: Config.option(Config.literal("drain", "interrupt")("SLUICE_REVOCATION")),
  drainTimeout: Config.option(Config.duration("SLUICE_DRAIN_TIMEOUT")),
  perPartition: Config.option(Config.integer("SLUICE_BUFFER_PER_PARTITION")),
  total: Config.option(Config.integer("SLUICE_BUFFER_TOTAL")),
  shutdownTimeout: Config.option(Config.duration("SLUICE_SHUTDOWN_TIMEOUT")),
  sessionTimeout: Config.option(Config.duration("KAFKA_SESSION_TIMEOUT"))
}).pipe(
  Config.map(
    (c): Input => ({
      groupId: c.groupId,
      clientId: Option.getOrUndefined(c.clientId),
      startFrom: Option.getOrUndefined(c.startFrom),
      commitInterval: Option.getOrUndefined(c.commitInterval),
      commitEvery: Option.getOrUndefined(c.commitEvery),
      revocation: Option.match(c.revocation, {
        onNone: () => undefined,
        onSome: (tag) =>
          tag === "interrupt" ? interrupt : drain(Option.getOrElse(c.drainTimeout, () => Duration.seconds(10)))
      }),
      buffer: { perPartition: Option.getOrUndefined(c.perPartition), total: Option.getOrUndefined(c.total) },
      shutdownTimeout: Option.getOrUndefined(c.shutdownTimeout),
      sessionTimeout: Option.getOrUndefined(c.sessionTimeout)
    })
  )
)

/**
 * The settings as a service, for programs that build them from layers.
 *
 * @since 0.1.0
 */
export class Settings extends Context.Tag("@sluice/core/ConsumerSettings")<Settings, ConsumerSettings>() {}

/** @since 0.1.0 */
export const layer = (input: Input): Layer.Layer<Settings, SettingsError> => Layer.effect(Settings, make(input))

/** @since 0.1.0 */
export const layerConfig = (
  overrides: Partial<Input> = {}
): Layer.Layer<Settings, SettingsError | import("effect/ConfigError").ConfigError> =>
  Layer.effect(
    Settings,
    Effect.flatMap(config, (input) => make({ ...input, ...overrides } as Input))
  )
