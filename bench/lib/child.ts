/**
 * Runs one benchmark step in a child process of its own (a fresh heap, its own peak RSS)
 * and reads its result line.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import * as path from "node:path"
import { bundleScript } from "./bundle.js"
import { resultPrefix } from "./common.js"

export const benchDir = path.resolve(import.meta.dirname, "..")
export const rootDir = path.resolve(benchDir, "..")

export interface Spawned {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly wallSeconds: number
}

export const spawnProcess = (
  command: string,
  argv: ReadonlyArray<string>,
  options: { readonly timeoutMs: number; readonly env?: NodeJS.ProcessEnv | undefined }
): Promise<Spawned> =>
  new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(command, argv, {
      cwd: rootDir,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk
      // Keep the tail only: clients can be chatty.
      if (stderr.length > 200_000) stderr = stderr.slice(-100_000)
    })
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`${path.basename(argv.at(-2) ?? command)} timed out after ${options.timeoutMs} ms`))
    }, options.timeoutMs)
    child.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, wallSeconds: (performance.now() - started) / 1000 })
    })
  })

/** Whether `taskset` can pin a child to one core (Linux with util-linux). */
export const hasTaskset = existsSync("/usr/bin/taskset") || existsSync("/bin/taskset")

export interface NodeChildOptions {
  readonly timeoutMs: number
  /** Pins the child to one CPU (`taskset -c <core>`) where possible: "on one core", GC threads included. */
  readonly oneCore?: boolean | undefined
  /** The CPU `oneCore` pins to: 1 unless given. */
  readonly core?: number | undefined
  /** Extra flags for node, e.g. `--cpu-prof`. */
  readonly nodeFlags?: ReadonlyArray<string> | undefined
  /** Runs the script bundled, with plain node (`bundle.ts`), rather than its source under tsx. */
  readonly bundled?: boolean | undefined
}

/** Runs `bench/<script>` under node (with tsx, or bundled) and returns its result line, parsed. */
export const runNode = async <A>(
  script: string,
  args: object,
  options: NodeChildOptions
): Promise<{ readonly result: A; readonly wallSeconds: number; readonly pinned: boolean }> => {
  const entry =
    options.bundled === true ? [await bundleScript(script)] : ["--import", "tsx", path.join(benchDir, script)]
  const nodeArgv = [...(options.nodeFlags ?? []), ...entry, JSON.stringify(args)]
  const pinned = options.oneCore === true && hasTaskset
  const spawned = pinned
    ? await spawnProcess("taskset", ["-c", String(options.core ?? 1), process.execPath, ...nodeArgv], options)
    : await spawnProcess(process.execPath, nodeArgv, options)
  const line = spawned.stdout
    .split("\n")
    .reverse()
    .find((l) => l.startsWith(resultPrefix))
  if (spawned.code !== 0 || line === undefined) {
    throw new Error(
      `${script} failed (exit ${spawned.code}):\n${spawned.stderr.slice(-4000)}\n${spawned.stdout.slice(-2000)}`
    )
  }
  return { result: JSON.parse(line.slice(resultPrefix.length)) as A, wallSeconds: spawned.wallSeconds, pinned }
}
