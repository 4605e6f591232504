/**
 * Sluice's command line: `sluice lag`, a consumer group's lag per partition, live with `--watch`.
 *
 * @since 0.2.0
 */

/**
 * The `sluice` command and its subcommands, their flags and exit codes.
 *
 * @since 0.2.0
 */
export * as Cli from "./Cli.js"
/**
 * A group's partitions with owner, offsets, lag and a bar: the text and the refreshing screen.
 *
 * @since 0.2.0
 */
export * as Lag from "./Lag.js"
