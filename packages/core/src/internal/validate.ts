/**
 * The checks behind every public constructor's validation: each returns the value or fails
 * with a `SettingsError` naming the setting and showing the refused value. Shared so that
 * settings, modes, policies, topics and drivers word their errors alike.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { SettingsError } from "../SettingsError.js"

/**
 * The longest duration a setting may have: the longest timer the runtime can set (about
 * 24.8 days). A longer timer would never fire, so a commit interval or a timeout above it
 * would silently mean "never".
 */
export const maxDurationMillis = 2 ** 31 - 1

/** Kafka's INT32 fields (partitions, fetch sizes): a larger value would not encode. */
export const maxInt32 = 2 ** 31 - 1

/** How a refused value is shown: strings quoted (an empty one is visible), durations formatted. */
export const show = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value)
  if (Duration.isDuration(value)) return Duration.format(value)
  if (typeof value === "number" && Object.is(value, -0)) return "-0"
  try {
    return typeof value === "object" && value !== null ? JSON.stringify(value) : String(value)
  } catch {
    return String(value)
  }
}

export const fail = (setting: string, message: string): Effect.Effect<never, SettingsError> =>
  Effect.fail(new SettingsError({ setting, message }))

/** An integer within `[min, max]`. */
export const integer = (
  setting: string,
  value: unknown,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER
): Effect.Effect<number, SettingsError> =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= min && value <= max
    ? Effect.succeed(value)
    : fail(
        setting,
        max === Number.MAX_SAFE_INTEGER
          ? `${setting} must be an integer of at least ${min}, got ${show(value)}`
          : `${setting} must be an integer from ${min} to ${max}, got ${show(value)}`
      )

export const positiveInt = (setting: string, value: unknown, max?: number): Effect.Effect<number, SettingsError> =>
  integer(setting, value, 1, max)

export const nonNegativeInt = (setting: string, value: unknown, max?: number): Effect.Effect<number, SettingsError> =>
  integer(setting, value, 0, max)

/** A finite, positive duration of at most `maxDurationMillis`, from any `DurationInput`. */
export const duration = (setting: string, input: unknown): Effect.Effect<Duration.Duration, SettingsError> =>
  Option.match(Duration.decodeUnknown(input), {
    onNone: () => fail(setting, `${setting} is not a duration, got ${show(input)}`),
    onSome: (decoded) => {
      const millis = Duration.toMillis(decoded)
      // `Duration` turns a NaN or negative number into zero: the check below catches both,
      // and the message shows the input, not the zero.
      return Duration.isFinite(decoded) && millis > 0 && millis <= maxDurationMillis
        ? Effect.succeed(decoded)
        : fail(setting, `${setting} must be a positive duration of at most 24 days, got ${show(input)}`)
    }
  })

/** A duration when given, else `fallback`. */
export const optionalDuration = (
  setting: string,
  input: unknown,
  fallback: Duration.Duration
): Effect.Effect<Duration.Duration, SettingsError> =>
  input === undefined ? Effect.succeed(fallback) : duration(setting, input)

/** A non-blank string. */
export const name = (setting: string, value: unknown): Effect.Effect<string, SettingsError> =>
  typeof value === "string" && value.trim() !== ""
    ? Effect.succeed(value)
    : fail(setting, `${setting} must be a non-empty string, got ${show(value)}`)

/** One of `choices`. */
export const oneOf = <const A extends string>(
  setting: string,
  value: unknown,
  choices: ReadonlyArray<A>
): Effect.Effect<A, SettingsError> =>
  typeof value === "string" && (choices as ReadonlyArray<string>).includes(value)
    ? Effect.succeed(value as A)
    : fail(setting, `${setting} must be one of ${choices.map((c) => JSON.stringify(c)).join(", ")}, got ${show(value)}`)

export const boolean = (setting: string, value: unknown): Effect.Effect<boolean, SettingsError> =>
  typeof value === "boolean"
    ? Effect.succeed(value)
    : fail(setting, `${setting} must be true or false, got ${show(value)}`)

const legalTopic = /^[a-zA-Z0-9._-]{1,249}$/

/** A name Kafka accepts for a topic: 1 to 249 of `a-z A-Z 0-9 . _ -`, and not `.` or `..`. */
export const topicName = (setting: string, value: unknown): Effect.Effect<string, SettingsError> =>
  typeof value === "string" && legalTopic.test(value) && value !== "." && value !== ".."
    ? Effect.succeed(value)
    : fail(
        setting,
        `${setting} must be a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -, not "." or ".."), got ${show(value)}`
      )

/** A non-empty list of topic names without repeats. */
export const topicNames = (setting: string, value: unknown): Effect.Effect<ReadonlyArray<string>, SettingsError> => {
  if (!Array.isArray(value) || value.length === 0) {
    return fail(setting, `${setting} must name at least one topic, got ${show(value)}`)
  }
  return Effect.flatMap(
    Effect.forEach(value, (topic, i) => topicName(`${setting}[${i}]`, topic)),
    (topics) =>
      new Set(topics).size === topics.length
        ? Effect.succeed(topics)
        : fail(setting, `${setting} names a topic twice, got ${show(value)}`)
  )
}

export const isFunction = (setting: string, value: unknown): Effect.Effect<void, SettingsError> =>
  typeof value === "function" ? Effect.void : fail(setting, `${setting} must be a function, got ${show(value)}`)
