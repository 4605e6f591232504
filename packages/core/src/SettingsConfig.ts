/**
 * Readers of settings from a `Config` provider (the environment by default), shared by
 * `ConsumerSettings.config` and the drivers' `config`s so that every setting is read alike:
 * numbers strictly (`1.5` stays `1.5`, it is not cut to `1`), durations as `"5 seconds"` or
 * plain milliseconds, both handed on as given so that the `SettingsError` of a bad value
 * shows the text that was read.
 *
 * @since 0.2.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"

/**
 * The prefix of every setting in the environment: `KAFKA_GROUP_ID`, `KAFKA_BROKERS`, …
 * The readers nest their names under it (`Config.nested`), so a `ConfigProvider` can move
 * them (`ConfigProvider.nested`, `ConfigProvider.fromJson({ KAFKA: { GROUP_ID: … } })`).
 *
 * @since 0.2.0
 */
export const prefix = "KAFKA"

/**
 * A number, read strictly: text that is not a number is a `ConfigError`; a number that is
 * out of range for its setting (`0`, `-1`, `1.5`, `Infinity`) is left to the settings'
 * validation, which fails with a `SettingsError` naming it.
 *
 * @since 0.2.0
 */
export const number = (name: string): Config.Config<number> =>
  Config.mapOrFail(Config.string(name), (text) => {
    const trimmed = text.trim()
    const value = Number(trimmed)
    return trimmed === "" || (Number.isNaN(value) && trimmed !== "NaN")
      ? Either.left(ConfigError.InvalidData([name], `Expected a number, got ${JSON.stringify(text)}`))
      : Either.right(value)
  })

/**
 * A duration: plain digits are milliseconds, anything else is handed on as text
 * (`"5 seconds"`, `"1 minute"`) for the settings' validation.
 *
 * @since 0.2.0
 */
export const duration = (name: string): Config.Config<Duration.DurationInput> =>
  Config.map(Config.string(name), (text): Duration.DurationInput => {
    const trimmed = text.trim()
    return /^-?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : (trimmed as Duration.DurationInput)
  })

/**
 * An optional setting: `undefined` when absent (the default applies), a `ConfigError` when
 * present but unreadable.
 *
 * @since 0.2.0
 */
export const optional = <A>(config: Config.Config<A>): Config.Config<A | undefined> =>
  Config.map(Config.option(config), Option.getOrUndefined)
