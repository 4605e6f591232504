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
 * @since 0.1.0
 */

/** @since 0.1.0 */
export type ProcessingMode =
  | { readonly _tag: "partition" }
  | { readonly _tag: "keyed"; readonly concurrency: number }
  | { readonly _tag: "unordered"; readonly concurrency: number }

/** @since 0.1.0 */
export const partition: ProcessingMode = { _tag: "partition" }

/** @since 0.1.0 */
export const keyed = (options: { readonly concurrency: number }): ProcessingMode => ({
  _tag: "keyed",
  concurrency: options.concurrency
})

/** @since 0.1.0 */
export const unordered = (options: { readonly concurrency: number }): ProcessingMode => ({
  _tag: "unordered",
  concurrency: options.concurrency
})
