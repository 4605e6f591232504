/**
 * How a partition's records run.
 *
 * - `partition` (default): one at a time, in offset order.
 * - `keyed({ concurrency })`: up to `concurrency` at a time, never two of one key at once,
 *   each key in offset order; a failing or retrying record holds only its key. Records
 *   without a key are independent of each other (Kafka spreads them over partitions anyway).
 * - `unordered({ concurrency })`: up to `concurrency` at a time, in any order.
 *
 * In every mode the commit names only the frontier (the lowest unfinished offset); offsets
 * finished above it travel in the commit's metadata so that a restart skips them.
 *
 * A pipeline carries its mode (`Pipeline.make({ …, mode })`); `Consumer.run` takes one too.
 * The constructors are pure: the concurrency is checked when the run starts, and a bad one
 * (zero, negative, fractional, NaN, above `maxConcurrency`) fails it with a `SettingsError`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Validate from "./internal/validate.js"
import { maxEncodableWindow } from "./OffsetMetadata.js"
import type { SettingsError } from "./SettingsError.js"

/**
 * One record at a time per partition, in offset order.
 *
 * @since 0.2.0
 */
export interface Partition {
  readonly _tag: "Partition"
}

/**
 * Up to `concurrency` records of a partition at a time, one at a time per key.
 *
 * @since 0.2.0
 */
export interface Keyed {
  readonly _tag: "Keyed"
  readonly concurrency: number
}

/**
 * Up to `concurrency` records of a partition at a time, in any order.
 *
 * @since 0.2.0
 */
export interface Unordered {
  readonly _tag: "Unordered"
  readonly concurrency: number
}

/**
 * How a partition's records run: `Partition`, `Keyed` or `Unordered`.
 *
 * @since 0.1.0
 */
export type ProcessingMode = Partition | Keyed | Unordered

/**
 * The most records of one partition a mode may run at once: no more than the offset window
 * a commit can describe (`OffsetMetadata.maxEncodableWindow`) can be in flight anyway.
 *
 * @since 0.2.0
 */
export const maxConcurrency: number = maxEncodableWindow

/**
 * One record at a time per partition, in offset order (the default).
 *
 * @since 0.1.0
 */
export const partition: ProcessingMode = { _tag: "Partition" }

/**
 * Up to `concurrency` records of a partition at a time, one at a time per key.
 *
 * @example
 * ```ts
 * import * as ProcessingMode from "@sluice/core/ProcessingMode"
 *
 * const mode = ProcessingMode.keyed({ concurrency: 16 })
 * ```
 *
 * @since 0.1.0
 */
export const keyed = (options: { readonly concurrency: number }): ProcessingMode => ({
  _tag: "Keyed",
  concurrency: options.concurrency
})

/**
 * Up to `concurrency` records of a partition at a time, in any order.
 *
 * @since 0.1.0
 */
export const unordered = (options: { readonly concurrency: number }): ProcessingMode => ({
  _tag: "Unordered",
  concurrency: options.concurrency
})

/**
 * Checks a mode: a known tag and, for `Keyed` and `Unordered`, an integer concurrency from 1
 * to `maxConcurrency`. `setting` names it in the error (`"mode"` gives `"mode.concurrency"`).
 *
 * @since 0.2.0
 */
export const validate = (mode: ProcessingMode, setting = "mode"): Effect.Effect<ProcessingMode, SettingsError> => {
  const tag = (mode as { readonly _tag?: unknown } | null | undefined)?._tag
  if (tag === "Partition") return Effect.succeed(mode)
  if (tag === "Keyed" || tag === "Unordered") {
    return Effect.as(
      Validate.positiveInt(`${setting}.concurrency`, (mode as Keyed | Unordered).concurrency, maxConcurrency),
      mode
    )
  }
  return Validate.fail(
    setting,
    `${setting} must be ProcessingMode.partition, keyed(…) or unordered(…), got ${Validate.show(mode)}`
  )
}
