/**
 * The command line of `pnpm bench`, read with `node:util`'s `parseArgs`: an unknown flag or
 * workload stops the run before it measures anything.
 */
import { parseArgs } from "node:util"

export const workloads = [
  "throughput",
  "engine",
  "observability",
  "keyed",
  "memory",
  "revocation",
  "coldstart",
  "deploy",
  "exactly_once",
  "exactly_once_postgres"
] as const
export type Workload = (typeof workloads)[number]

export interface Options {
  /** The reduced run into `bench/results/quick.json`; the docs are left alone. */
  readonly quick: boolean
  readonly only: ReadonlySet<Workload>
  /** Profiles the engine and Sluice's contestant even where the goals are met. */
  readonly profile: boolean
  /** Leaves the chart and docs/benchmarks.md alone after a full run. */
  readonly noDocs: boolean
  /** Measures nothing: redraws the report (and after a full run the chart and docs) from the last results file. */
  readonly reportOnly: boolean
  /** Measures nothing: redraws docs/benchmarks.svg from `bench/results/latest.json` only. */
  readonly chartOnly: boolean
}

export const usage = `Usage: pnpm bench [options]

Runs the benchmarks of docs/benchmarks.md and writes bench/results/latest.json, then the
chart (docs/benchmarks.svg) and the results part of docs/benchmarks.md.

Options:
  --quick          a reduced run (a few minutes; the cold start builds, packs and installs
                   the packages) into bench/results/quick.json; the docs are left alone
  --only=a,b       run some workloads only: ${workloads.join(", ")}
  --profile        profile the engine and Sluice's contestant even where the goals are met
  --no-docs        leave the chart and docs/benchmarks.md alone after a full run
  --report-only    measure nothing; redraw the report (and, for a full run, the chart and
                   the docs) from the last results file
  --chart-only     measure nothing; redraw docs/benchmarks.svg from bench/results/latest.json
  -h, --help       print this and exit
`

/** A command line that cannot run: the message says why. */
export class UsageError extends Error {}

const selection = (only: string | undefined): ReadonlySet<Workload> => {
  if (only === undefined) return new Set(workloads)
  const names = only.split(",").map((name) => name.trim())
  const unknown = names.filter((name) => !(workloads as ReadonlyArray<string>).includes(name))
  if (unknown.length > 0) {
    throw new UsageError(`unknown workload ${unknown.join(", ")} in --only; known: ${workloads.join(", ")}`)
  }
  return new Set(names as Array<Workload>)
}

const read = (argv: ReadonlyArray<string>) => {
  try {
    return parseArgs({
      // `pnpm bench -- --quick` passes the `--` on; the flags after it are still flags.
      args: argv[0] === "--" ? argv.slice(1) : [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        quick: { type: "boolean", default: false },
        only: { type: "string" },
        profile: { type: "boolean", default: false },
        "no-docs": { type: "boolean", default: false },
        "report-only": { type: "boolean", default: false },
        "chart-only": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false }
      }
    }).values
  } catch (error) {
    // parseArgs names the flag (`Unknown option '--quik'`); what follows is its advice on positionals.
    throw new UsageError(error instanceof Error ? (error.message.split(". ")[0] ?? error.message) : String(error))
  }
}

/** The options of `argv` (without node and the script), or undefined after printing the help. */
export const parseOptions = (argv: ReadonlyArray<string>): Options | undefined => {
  const values = read(argv)
  if (values.help) {
    process.stdout.write(usage)
    return undefined
  }
  if (values["report-only"] && values["chart-only"]) {
    throw new UsageError("--report-only and --chart-only exclude each other")
  }
  return {
    quick: values.quick,
    only: selection(values.only),
    profile: values.profile,
    noDocs: values["no-docs"],
    reportOnly: values["report-only"],
    chartOnly: values["chart-only"]
  }
}
