/**
 * The mutation check: do the property tests catch deliberate engine bugs?
 *
 * Copies packages/core and packages/testkit (sources, with their node_modules links; the root
 * node_modules is linked) to a scratch directory, runs the property tests there unmutated
 * (they must pass), then once per `scripts/mutations/*.patch`: applies the patch with
 * `git apply`, runs the property tests, reverts it. A mutation is caught when the tests fail;
 * the report gives, per mutation, the guarantee that caught it, the schedules run until the
 * first counterexample and the time. Exits non-zero if a mutation survives or the
 * unmutated copy fails.
 *
 *   pnpm test:mutations [--runs 1000] [--seed 42] [--only a1,c2] [--keep] [--with fix.patch,…]
 *   pnpm test:mutations --check
 *
 * `--check` runs nothing: it only says whether every patch still applies to the sources as they
 * are. CI runs it (the whole check takes minutes), so that a change to the engine cannot leave a
 * patch behind unnoticed: four did once (the revocation and `partition` mode's loop changed under
 * them) and stayed behind until the next whole check reported them as not applying.
 *
 * (flags read with `node:util`'s `parseArgs`: an unknown flag stops the check before it starts)
 *
 * Nothing in the shipped code can switch a mutation on: the patches only ever touch the
 * scratch copy.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "../..")

const usage =
  "pnpm test:mutations [--runs 1000] [--seed 42] [--only a1,c2] [--keep] [--with fix.patch,…] | pnpm test:mutations --check"

const parsed = (() => {
  try {
    return parseArgs({
      options: {
        runs: { type: "string" },
        seed: { type: "string" },
        only: { type: "string" },
        keep: { type: "boolean", default: false },
        check: { type: "boolean", default: false },
        with: { type: "string" }
      },
      strict: true,
      allowPositionals: false
    }).values
  } catch (error) {
    console.error(`[mutations] ${error instanceof Error ? error.message : String(error)}\nusage: ${usage}`)
    process.exit(2)
  }
})()

const runs = Number(parsed.runs ?? process.env.SLUICE_PROPERTY_RUNS ?? 1000)
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`[mutations] --runs must be a positive integer, not ${parsed.runs}\nusage: ${usage}`)
  process.exit(2)
}
const only = parsed.only?.split(",")
const keep = parsed.keep
/** A fast-check seed, for a reproducible check (by default each run draws new schedules). */
const seed = parsed.seed
/** Patches applied to the baseline too (e.g. a proposed fix, to see the check pass with it). */
const extra = parsed.with?.split(",").map((f) => path.resolve(f))

interface PropertyLine {
  readonly mode: string
  readonly failed: boolean
  readonly schedules: number
  readonly seconds: number
  readonly reason: string
}

interface Result {
  readonly name: string
  readonly description: string
  readonly applied: boolean
  readonly exitCode: number
  readonly seconds: number
  readonly properties: ReadonlyArray<PropertyLine>
  readonly output: string
}

// -----------------------------------------------------------------------------------------
// The scratch copy
// -----------------------------------------------------------------------------------------

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-mutations-"))

const copyPackage = (name: string): void => {
  fs.cpSync(path.join(root, "packages", name), path.join(scratch, "packages", name), {
    recursive: true,
    // Keep pnpm's relative links as links: they resolve to the scratch copy's siblings and
    // to the linked root node_modules.
    verbatimSymlinks: true,
    filter: (source) => {
      const base = path.basename(source)
      return base !== "build" && base !== ".vite-temp" && base !== ".vite"
    }
  })
}

const prepare = (): void => {
  for (const file of ["package.json", "tsconfig.base.json"]) {
    fs.copyFileSync(path.join(root, file), path.join(scratch, file))
  }
  fs.symlinkSync(path.join(root, "node_modules"), path.join(scratch, "node_modules"), "dir")
  copyPackage("core")
  copyPackage("testkit")
  // The testkit's tsconfig references the kafkajs package; the property tests never load it.
  fs.mkdirSync(path.join(scratch, "packages", "kafkajs"), { recursive: true })
  for (const file of ["package.json", "tsconfig.json"]) {
    fs.copyFileSync(path.join(root, "packages", "kafkajs", file), path.join(scratch, "packages", "kafkajs", file))
  }
}

const git = (...gitArgs: Array<string>) =>
  spawnSync("git", gitArgs, { cwd: scratch, encoding: "utf8" }) as { status: number | null; stderr: string }

// -----------------------------------------------------------------------------------------
// Running the property tests
// -----------------------------------------------------------------------------------------

const propertyLine =
  /^\[sluice-property\] (\w+): (?:FAILED at schedule (\d+) after ([\d.]+) s.*?: (.*)|(\d+) schedules in ([\d.]+) s)/

const runProperties = (): Omit<Result, "name" | "description" | "applied"> => {
  const started = Date.now()
  const vitest = path.join(root, "node_modules", "vitest", "vitest.mjs")
  const child = spawnSync(
    process.execPath,
    [vitest, "run", "--root", path.join(scratch, "packages", "testkit"), "test/property"],
    {
      cwd: scratch,
      encoding: "utf8",
      env: {
        ...process.env,
        SLUICE_PROPERTY_RUNS: String(runs),
        ...(seed === undefined ? {} : { SLUICE_PROPERTY_SEED: seed }),
        CI: "1",
        NO_COLOR: "1"
      },
      maxBuffer: 256 * 1024 * 1024
    }
  )
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes
  const output = `${child.stdout}\n${child.stderr}`.replace(/\x1b\[[0-9;]*m/g, "")
  const properties: Array<PropertyLine> = []
  for (const line of output.split("\n")) {
    const match = propertyLine.exec(line.trim())
    if (match === null) continue
    properties.push(
      match[2] !== undefined
        ? {
            mode: match[1]!,
            failed: true,
            schedules: Number(match[2]),
            seconds: Number(match[3]),
            reason: match[4]!
          }
        : { mode: match[1]!, failed: false, schedules: Number(match[5]), seconds: Number(match[6]), reason: "" }
    )
  }
  return { exitCode: child.status ?? 1, seconds: (Date.now() - started) / 1000, properties, output }
}

// -----------------------------------------------------------------------------------------
// The check
// -----------------------------------------------------------------------------------------

const describePatch = (file: string): string => {
  const text = fs.readFileSync(file, "utf8")
  const header = text.slice(0, Math.max(0, text.indexOf("diff --git")))
  return header.replace(/\s+/g, " ").trim()
}

const summary = (result: Result): string => {
  if (!result.applied) return "patch does not apply"
  const failed = result.properties.filter((p) => p.failed)
  if (result.exitCode === 0) return `SURVIVED (${result.seconds.toFixed(0)} s)`
  if (failed.length === 0) return `tests failed without a counterexample (exit ${result.exitCode}): see the output`
  const modes = failed
    .map((p) => `${p.mode}: ${p.reason.split(" ")[0]} at schedule #${p.schedules} (${p.seconds.toFixed(1)} s)`)
    .join("; ")
  return `caught — ${modes}; whole run ${result.seconds.toFixed(0)} s`
}

/** `--check`: whether each patch applies to the working tree, with the context the check allows. */
const checkPatches = (patches: ReadonlyArray<string>): number => {
  const stale = patches.filter((patch) => {
    const applies = spawnSync("git", ["apply", "--check", "--recount", "-C1", path.join(here, patch)], {
      cwd: root,
      encoding: "utf8"
    })
    if (applies.status !== 0) console.log(`[mutations] ${patch}: does not apply: ${applies.stderr.trim()}`)
    return applies.status !== 0
  })
  console.log(
    stale.length === 0
      ? `[mutations] all ${patches.length} patches apply`
      : `[mutations] ${stale.length} of ${patches.length} patches no longer apply: express each mutation against the code as it is now`
  )
  return stale.length === 0 ? 0 : 1
}

const main = (): number => {
  const patches = fs
    .readdirSync(here)
    .filter((f) => f.endsWith(".patch"))
    .filter((f) => only === undefined || only.some((o) => f.startsWith(o)))
    .sort()
  const unmatched = only?.filter((o) => !patches.some((f) => f.startsWith(o))) ?? []
  if (unmatched.length > 0) {
    console.log(`[mutations] --only ${unmatched.join(",")} matches no patch in ${path.relative(root, here)}`)
    return 1
  }
  if (parsed.check) return checkPatches(patches)
  prepare()
  console.log(`[mutations] scratch copy in ${scratch}; ${runs} schedules per mode`)
  for (const file of extra ?? []) {
    const applied = git("apply", "--recount", file)
    if (applied.status !== 0) {
      console.log(`[mutations] --with ${file} does not apply: ${applied.stderr.trim()}`)
      return 1
    }
    console.log(`[mutations] baseline includes ${path.basename(file)}`)
  }

  const baseline = runProperties()
  const sane = baseline.exitCode === 0 && baseline.properties.length > 0 && baseline.properties.every((p) => !p.failed)
  console.log(
    `[mutations] unmutated: ${sane ? "pass" : "FAIL"} (${baseline.seconds.toFixed(0)} s; ${baseline.properties
      .map((p) => `${p.mode} ${p.failed ? "failed" : `${p.schedules} in ${p.seconds.toFixed(1)} s`}`)
      .join(", ")})`
  )
  if (!sane) {
    console.log(baseline.output)
    console.log("[mutations] the unmutated copy must pass first: fix the engine (or the tests)")
    return 1
  }

  const results: Array<Result> = []
  for (const patch of patches) {
    const file = path.join(here, patch)
    const name = patch.replace(/\.patch$/, "")
    const description = describePatch(file)
    const apply = git("apply", "--recount", "-C1", file)
    if (apply.status !== 0) {
      results.push({ name, description, applied: false, exitCode: 1, seconds: 0, properties: [], output: apply.stderr })
      console.log(`[mutations] ${name}: patch does not apply: ${apply.stderr.trim()}`)
      continue
    }
    const result: Result = { name, description, applied: true, ...runProperties() }
    results.push(result)
    console.log(`[mutations] ${name}: ${summary(result)}`)
    if (result.exitCode !== 0 && result.properties.every((p) => !p.failed)) console.log(result.output.slice(-4000))
    const revert = git("apply", "-R", "--recount", "-C1", file)
    if (revert.status !== 0) {
      console.log(`[mutations] could not revert ${name}: ${revert.stderr.trim()}`)
      return 1
    }
  }

  console.log("\n| mutation | what | result |\n|---|---|---|")
  for (const result of results) console.log(`| ${result.name} | ${result.description} | ${summary(result)} |`)
  const survived = results.filter((r) => !r.applied || r.exitCode === 0)
  console.log(
    `\n[mutations] ${results.length - survived.length} of ${results.length} mutations caught${
      survived.length > 0 ? `; survived or not applied: ${survived.map((r) => r.name).join(", ")}` : ""
    }`
  )
  return survived.length === 0 ? 0 : 1
}

let code = 1
try {
  code = main()
} finally {
  if (keep) console.log(`[mutations] kept ${scratch}`)
  else fs.rmSync(scratch, { recursive: true, force: true })
}
process.exit(code)
