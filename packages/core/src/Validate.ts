/**
 * The checks behind every constructor's validation, for drivers and other packages that take
 * settings of their own: each returns the value, or fails with a `SettingsError` naming the
 * setting and showing the refused value, worded as the core's own settings are.
 *
 * @example
 * ```ts
 * import * as Validate from "@sluice/core/Validate"
 * import * as Effect from "effect/Effect"
 *
 * const options = Effect.all({
 *   maxRestarts: Validate.nonNegativeInt("maxRestarts", 5),
 *   maxWaitTime: Validate.duration("maxWaitTime", "500 millis")
 * })
 * ```
 *
 * @since 0.2.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as internal from "./internal/validate.js"
import type { SettingsError } from "./SettingsError.js"

/**
 * The longest duration a setting may have (2^31 - 1 ms, about 24.8 days): the longest timer
 * the runtime can set; a longer one would never fire.
 *
 * @since 0.2.0
 */
export const maxDurationMillis: number = internal.maxDurationMillis

/**
 * The largest value of Kafka's INT32 fields (partitions, fetch sizes).
 *
 * @since 0.2.0
 */
export const maxInt32: number = internal.maxInt32

/**
 * How an error message shows a refused value: strings quoted (an empty one stays visible),
 * durations formatted, `-0` as `-0`.
 *
 * @since 0.2.0
 */
export const show: (value: unknown) => string = internal.show

/**
 * Fails with a `SettingsError` for `setting`.
 *
 * @since 0.2.0
 */
export const fail: (setting: string, message: string) => Effect.Effect<never, SettingsError> = internal.fail

/**
 * An integer within `[min, max]` (`max` defaults to `Number.MAX_SAFE_INTEGER`).
 *
 * @since 0.2.0
 */
export const integer: (
  setting: string,
  value: unknown,
  min: number,
  max?: number
) => Effect.Effect<number, SettingsError> = internal.integer

/**
 * An integer from 1 to `max`.
 *
 * @since 0.2.0
 */
export const positiveInt: (setting: string, value: unknown, max?: number) => Effect.Effect<number, SettingsError> =
  internal.positiveInt

/**
 * An integer from 0 to `max`.
 *
 * @since 0.2.0
 */
export const nonNegativeInt: (setting: string, value: unknown, max?: number) => Effect.Effect<number, SettingsError> =
  internal.nonNegativeInt

/**
 * A finite, positive duration of at most `maxDurationMillis`, from any `DurationInput`.
 *
 * @since 0.2.0
 */
export const duration: (setting: string, input: unknown) => Effect.Effect<Duration.Duration, SettingsError> =
  internal.duration

/**
 * A duration when given, else `fallback`.
 *
 * @since 0.2.0
 */
export const optionalDuration: (
  setting: string,
  input: unknown,
  fallback: Duration.Duration
) => Effect.Effect<Duration.Duration, SettingsError> = internal.optionalDuration

/**
 * A non-blank string.
 *
 * @since 0.2.0
 */
export const name: (setting: string, value: unknown) => Effect.Effect<string, SettingsError> = internal.name

/**
 * One of `choices`.
 *
 * @since 0.2.0
 */
export const oneOf: <const A extends string>(
  setting: string,
  value: unknown,
  choices: ReadonlyArray<A>
) => Effect.Effect<A, SettingsError> = internal.oneOf

/**
 * `true` or `false`.
 *
 * @since 0.2.0
 */
export const boolean: (setting: string, value: unknown) => Effect.Effect<boolean, SettingsError> = internal.boolean

/**
 * A name Kafka accepts for a topic: 1 to 249 of `a-z A-Z 0-9 . _ -`, not `.` or `..`.
 *
 * @since 0.2.0
 */
export const topicName: (setting: string, value: unknown) => Effect.Effect<string, SettingsError> = internal.topicName
