/**
 * Workload 6: cold start. A user's program (e2e/fixtures/new-user/src/main.ts, whatever it
 * is) from process spawn to its first record handled, on the real broker, two ways:
 * - `built`: the packages built, packed and npm-installed into a scratch project outside the
 *   workspace (e2e/lib/scratchProject.ts, as the new-user test makes it), the program compiled
 *   by that project's tsc and run with plain `node dist/main.js`;
 * - `bundled`: that compiled program bundled by esbuild into one ES module with everything it
 *   imports (Sluice, Effect, kafkajs), as the README's "Starting fast" tells users to deploy
 *   it, run with plain `node dist/main.bundle.mjs`;
 * - `tsx`: the same source inside the workspace (a temporary `examples/*.tmp.ts`), run with
 *   `node --import tsx`, so that Sluice's own sources are compiled at start-up: how every
 *   process started before the packages were built.
 *
 * The clock starts before `spawn` and stops when the program's first line appears in its OUT
 * file (polled every 2 ms); the program is then stopped with SIGTERM. Every run consumes the
 * topic in a fresh group. The variants alternate, round after round, after a warm-up round
 * that is not reported (it also fills tsx's transform cache, as any earlier start would have).
 * Then the import time of each package with plain node in the scratch project, each import in
 * a fresh process (Effect's alone first, as what every package loads anyway).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process"
import { copyFileSync, readFileSync, rmSync, statSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { bundleFile, createScratchProject, type ScratchProject } from "../../e2e/lib/scratchProject.js"
import { rootDir } from "../lib/child.js"
import { args, brokers, die, emit, now, waitUntil } from "../lib/common.js"
import { coldstartTopic, deleteGroups, ensureTopic } from "../lib/kafka.js"

export interface ColdstartArgs {
  readonly rounds: number
  readonly warmupRounds: number
  /** Fresh processes per module for the import times. */
  readonly importRounds: number
}

export type Variant = "built" | "bundled" | "tsx"

export const importedModules = {
  effect: "effect",
  platform_node: "@effect/platform-node",
  core: "@sluice/core",
  kafkajs: "@sluice/kafkajs",
  testkit: "@sluice/testkit"
} as const
export type ImportedModule = keyof typeof importedModules

export interface ColdstartRun {
  readonly round: number
  readonly variant: Variant
  /** From spawn to the first line in OUT. */
  readonly ms: number
  /** CPU time (user + system, all threads) the process had used by then; undefined where /proc is missing. */
  readonly cpuMs: number | undefined
}

export interface ImportTime {
  readonly ms: number
  /** `process.cpuUsage()` over the import: the work, less sensitive to the machine's load than `ms`. */
  readonly cpuMs: number
}

export interface ColdstartResult {
  readonly runs: ReadonlyArray<ColdstartRun>
  /** What the `import()` of each module took, one per fresh process. */
  readonly imports: Record<ImportedModule, ReadonlyArray<ImportTime>>
  /** From spawn to exit of `node -e 0`: what any process costs before it loads anything. */
  readonly nodeStartMs: ReadonlyArray<number>
  /** `os.loadavg()` (1, 5, 15 min) before the first run and after the last import. */
  readonly loadBefore: ReadonlyArray<number>
  readonly loadAfter: ReadonlyArray<number>
  /** Building, packing and installing the packages and compiling the program. */
  readonly setupSeconds: number
}

const execFileAsync = promisify(execFile)
const log = (line: string) => process.stderr.write(`${line}\n`)

/** The environment of a measured process: no NODE_OPTIONS, so that plain node is plain. */
const plainEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const { NODE_OPTIONS: _, ...env } = process.env
  return { ...env, ...extra }
}

const exited = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
  })

/** Stops the program as its supervisor would, and kills it if it does not stop within 30 s. */
const stop = async (child: ChildProcess): Promise<void> => {
  child.kill("SIGTERM")
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000)
  await exited(child)
  clearTimeout(timer)
}

interface Launch {
  readonly cwd: string
  readonly argv: ReadonlyArray<string>
}

const groups: Array<string> = []

const clockTicks = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
  } catch {
    return 100
  }
})()

/** The CPU time `pid` has used so far (its utime + stime in /proc, all its threads), or undefined off Linux. */
const cpuMsOf = (pid: number | undefined): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // The fields after the command name in parentheses, from the state (field 3) on.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks
  } catch {
    return undefined
  }
}

const runOnce = async (launch: Launch, variant: Variant, round: number, outDir: string): Promise<ColdstartRun> => {
  const group = `sluice-bench-coldstart-${variant}-${round}-${Date.now()}`
  groups.push(group)
  const out = path.join(outDir, `${variant}-${round}-${Date.now()}.txt`)
  let output = ""
  const started = now()
  const child = spawn(process.execPath, [...launch.argv], {
    cwd: launch.cwd,
    env: plainEnv({ KAFKA_BROKERS: brokers.join(","), TOPIC: coldstartTopic.topic, KAFKA_GROUP_ID: group, OUT: out }),
    stdio: ["ignore", "pipe", "pipe"]
  })
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-8_000)
  }
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  const handled = () => (statSync(out, { throwIfNoEntry: false })?.size ?? 0) > 0
  try {
    await waitUntil(
      () => handled() || child.exitCode !== null,
      120_000,
      () => `${variant} handled no record`,
      2
    )
    const ms = now() - started
    const cpuMs = cpuMsOf(child.pid)
    if (!handled()) throw new Error(`${variant} exited with ${child.exitCode} before its first record`)
    return { round, variant, ms, cpuMs }
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${output}`)
  } finally {
    await stop(child)
  }
}

const plainNode = (cwd: string, argv: ReadonlyArray<string>) =>
  execFileAsync(process.execPath, [...argv], { cwd, env: plainEnv({}) })

/** The `import()` of `specifier` in a fresh plain node in `cwd`. */
const importTime = async (cwd: string, specifier: string): Promise<ImportTime> => {
  const code = [
    "const t = performance.now(), cpu = process.cpuUsage()",
    `await import(${JSON.stringify(specifier)})`,
    "const { user, system } = process.cpuUsage(cpu)",
    "process.stdout.write(JSON.stringify({ ms: performance.now() - t, cpuMs: (user + system) / 1000 }))"
  ].join("\n")
  const { stdout } = await plainNode(cwd, ["--input-type=module", "-e", code])
  return JSON.parse(stdout) as ImportTime
}

const nodeStartMs = async (cwd: string): Promise<number> => {
  const started = now()
  await plainNode(cwd, ["-e", "0"])
  return now() - started
}

const variants: ReadonlyArray<Variant> = ["built", "bundled", "tsx"]

const measure = async (a: ColdstartArgs, scratch: ScratchProject, tsxFile: string) => {
  const launches: Record<Variant, Launch> = {
    built: { cwd: scratch.project, argv: [path.join("dist", "main.js")] },
    bundled: { cwd: scratch.project, argv: [bundleFile] },
    tsx: { cwd: path.dirname(tsxFile), argv: ["--import", "tsx", tsxFile] }
  }
  const loadBefore = os.loadavg()
  const runs: Array<ColdstartRun> = []
  for (let round = -a.warmupRounds + 1; round <= a.rounds; round++) {
    // The variants rotate, so that none always runs first (or right after another) in a round.
    const order = variants.map(
      (_, i) => variants[(((i + round) % variants.length) + variants.length) % variants.length]!
    )
    for (const variant of order) {
      const run = await runOnce(launches[variant], variant, round, scratch.dir)
      log(
        `coldstart ${round > 0 ? `round ${round}` : "warm-up"} ${variant}: ${run.ms.toFixed(0)} ms (${run.cpuMs?.toFixed(0)} ms CPU)`
      )
      if (round > 0) runs.push(run)
    }
  }
  const names = Object.keys(importedModules) as Array<ImportedModule>
  const imports = Object.fromEntries(names.map((name) => [name, [] as Array<ImportTime>])) as Record<
    ImportedModule,
    Array<ImportTime>
  >
  const starts: Array<number> = []
  for (let round = 0; round < a.importRounds; round++) {
    starts.push(await nodeStartMs(scratch.project))
    // Each round starts with another module, so that none always comes first after the runs.
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length]!
      imports[name].push(await importTime(scratch.project, importedModules[name]))
    }
  }
  log(
    `coldstart imports: ${names.map((name) => `${name} ${imports[name].map((t) => t.ms.toFixed(0)).join("/")} ms`).join(", ")}`
  )
  return { runs, imports, nodeStartMs: starts, loadBefore, loadAfter: os.loadavg() }
}

const main = async (a: ColdstartArgs): Promise<ColdstartResult> => {
  await ensureTopic(coldstartTopic, log)
  const setupStarted = now()
  const scratch = await createScratchProject({ prefix: "sluice-coldstart-" })
  // The workspace's examples package has @sluice/* (their sources) and the program's other
  // dependencies; examples/*.tmp.ts is ignored by git.
  const tsxFile = path.join(rootDir, "examples", `coldstart-${process.pid}.tmp.ts`)
  try {
    await scratch.compile()
    await scratch.bundle()
    copyFileSync(path.join(scratch.project, "src", "main.ts"), tsxFile)
    const setupSeconds = (now() - setupStarted) / 1000
    log(`coldstart: scratch project ready in ${setupSeconds.toFixed(0)} s (${scratch.project})`)
    return { ...(await measure(a, scratch, tsxFile)), setupSeconds }
  } finally {
    rmSync(tsxFile, { force: true })
    scratch.remove()
    await deleteGroups(groups).catch(() => undefined)
  }
}

main(args<ColdstartArgs>()).then(emit, die)
