/**
 * The one error of a bad setting or argument: a number out of range, a duration that is not
 * one, an empty name, an illegal topic name. Every public constructor's input is checked
 * when it is first used in an effect (`ConsumerSettings.make`, `Consumer.run`, `Pipeline.run`,
 * `Producer.send`, a driver's layer), so a bad value fails there, naming the setting and the
 * value, instead of hanging, dying or being replaced by a default.
 *
 * @since 0.2.0
 */
import * as Data from "effect/Data"

/**
 * A setting was missing or out of range. `setting` is its path, e.g. `"buffer.perPartition"`
 * or `"mode.concurrency"`; `message` names the value that was refused.
 *
 * @example
 * ```ts
 * import * as Consumer from "@sluice/core/Consumer"
 * import * as ProcessingMode from "@sluice/core/ProcessingMode"
 * import * as Effect from "effect/Effect"
 *
 * const program = Consumer.run({
 *   topics: ["orders"],
 *   mode: ProcessingMode.keyed({ concurrency: 0 }),
 *   handler: () => Effect.void
 * }).pipe(Effect.catchTag("SettingsError", (error) => Effect.logError(error.setting, error.message)))
 * ```
 *
 * @since 0.1.0
 */
export class SettingsError extends Data.TaggedError("SettingsError")<{
  readonly setting: string
  readonly message: string
}> {}
