/**
 * The `sluice` command line (on `@effect/cli`): `sluice lag --group billing [--brokers host:port]
 * [--watch] [--interval 2] [--timeout 10] [--json]`. The brokers come from `--brokers`, else
 * `KAFKA_BROKERS`, else `127.0.0.1:9092`; the admin client is kafkajs's.
 *
 * Exit codes: 0 when it showed the group (or `--watch` was stopped with Ctrl-C), 1 when the
 * group is unknown or the brokers did not answer within `--timeout`, 2 for a bad flag or value.
 *
 * @since 0.2.0
 */
import { readFileSync } from "node:fs"
import type * as CliApp from "@effect/cli/CliApp"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as KafkaJsAdmin from "@sluice/kafkajs/KafkaJsAdmin"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Lag from "./Lag.js"

const version: string = (() => {
  try {
    // src/ and dist/ are both one level below the package.
    return JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version
  } catch {
    return "unknown"
  }
})()

const group = Options.text("group").pipe(Options.withAlias("g"), Options.withDescription("The consumer group to show."))

const brokers = Options.text("brokers").pipe(
  Options.withAlias("b"),
  Options.withDescription(
    "Bootstrap brokers, host:port, comma separated (default: KAFKA_BROKERS, else 127.0.0.1:9092)."
  ),
  Options.withFallbackConfig(Config.string("KAFKA_BROKERS").pipe(Config.withDefault("127.0.0.1:9092")))
)

const watch = Options.boolean("watch").pipe(
  Options.withAlias("w"),
  Options.withDescription("Refresh the screen every --interval seconds until Ctrl-C.")
)

const interval = Options.float("interval").pipe(
  Options.withDefault(2),
  Options.withDescription("Seconds between two screens with --watch.")
)

const timeout = Options.float("timeout").pipe(
  Options.withDefault(10),
  Options.withDescription("Seconds to wait for the brokers' answer before giving up.")
)

const json = Options.boolean("json").pipe(Options.withDescription("Print the group as JSON, one line per screen."))

const positive = (field: string, seconds: number): Effect.Effect<Duration.Duration, Lag.LagError> =>
  Number.isFinite(seconds) && seconds > 0
    ? Effect.succeed(Duration.millis(Math.round(seconds * 1000)))
    : Effect.fail(
        new Lag.LagError({
          reason: "InvalidArgument",
          field,
          message: `--${field} must be a positive number of seconds, got ${seconds}`
        })
      )

const brokerList = (value: string): Effect.Effect<Array<string>, Lag.LagError> => {
  const list = value
    .split(",")
    .map((b) => b.trim())
    .filter((b) => b !== "")
  const bad = list.find((b) => !/^[^\s:]+:\d{1,5}$/.test(b))
  return list.length === 0 || bad !== undefined
    ? Effect.fail(
        new Lag.LagError({
          reason: "InvalidArgument",
          field: "brokers",
          message: `--brokers must be host:port[,host:port…], got ${JSON.stringify(bad ?? value)}`
        })
      )
    : Effect.succeed(list)
}

/**
 * `sluice lag`.
 *
 * @since 0.2.0
 */
export const lag = Command.make("lag", { group, brokers, watch, interval, timeout, json }, (options) =>
  Effect.gen(function* () {
    const list = yield* brokerList(options.brokers)
    const deadline = yield* positive("timeout", options.timeout)
    const every = yield* positive("interval", options.interval)
    const shown = list.join(",")
    // kafkajs retries a refused connection on its own: bounded so that the deadline holds.
    const admin = KafkaJsAdmin.layer({
      brokers: list,
      clientId: "sluice-cli",
      connectionTimeout: Duration.min(deadline, Duration.seconds(3)),
      requestTimeout: deadline,
      retries: 2,
      logLevel: "nothing"
    })
    yield* Lag.show({
      groupId: options.group,
      brokers: shown,
      timeout: deadline,
      watch: options.watch ? { interval: every } : undefined,
      json: options.json,
      clear: options.watch && !options.json && process.stdout.isTTY === true
    }).pipe(
      Effect.provide(admin),
      Effect.catchTag("AdminError", (error) =>
        Effect.fail(
          new Lag.LagError({
            reason: "Connection",
            message: `could not reach ${shown}: ${error.message}`,
            cause: error
          })
        )
      ),
      Effect.catchTag("SettingsError", (error) =>
        Effect.fail(new Lag.LagError({ reason: "InvalidArgument", field: "brokers", message: error.message }))
      ),
      // The connection itself is bounded too (kafkajs's retries add up).
      Effect.timeoutFail({
        duration: options.watch ? Duration.infinity : Duration.sum(deadline, Duration.seconds(1)),
        onTimeout: () => new Lag.LagError({ reason: "Timeout", message: `no answer from ${shown} in time` })
      })
    )
  })
).pipe(Command.withDescription("A consumer group's partitions: owner, committed offset, log-end offset and lag."))

/**
 * `sluice` with its subcommands.
 *
 * @since 0.2.0
 */
export const sluice = Command.make("sluice").pipe(Command.withSubcommands([lag]))

/**
 * Runs the command line on `argv` (as `process.argv`: the first two are node and the script).
 *
 * @since 0.2.0
 */
export const run: (
  argv: ReadonlyArray<string>
) => Effect.Effect<void, Lag.LagError | ValidationError.ValidationError, CliApp.CliApp.Environment> = Command.run(
  sluice,
  { name: "sluice", version }
)

/**
 * The process's exit code for how `run` ended, after printing what a user needs: 2 for a bad
 * flag (`@effect/cli` printed why) or value, 1 for any other failure (its message printed).
 *
 * @since 0.2.0
 */
export const exitCode = (error: Lag.LagError | ValidationError.ValidationError): Effect.Effect<number> =>
  ValidationError.isValidationError(error)
    ? Effect.succeed(2)
    : Effect.as(Console.error(`sluice lag: ${error.message}`), error.reason === "InvalidArgument" ? 2 : 1)
