/**
 * Type-checks every `@example` of the published packages' public modules.
 *
 * @effect/docgen type-checks examples too, but then runs each one with tsx; Sluice's examples
 * start consumers and brokers, so running them would hang or need Kafka. This script does
 * docgen's first half only: it extracts each example of `packages/<pkg>/src/*.ts` (not
 * `internal/`) into a module of its own under `examples/.doc-examples/` (where `@sluice/*`,
 * `effect` and the platform packages resolve as in a user's project) and runs `tsc --noEmit`
 * over them. An error is reported at the example's line in the source. Exits non-zero on any
 * error.
 *
 * `pnpm docs` runs docgen with `DOCGEN_RUN_EXAMPLES=false`, then this script. docgen 0.5.2 reads
 * `runExamples` neither from `docgen.json` nor from `--no-run-examples` (its CLI drops the first
 * two arguments), only from the environment; without it docgen would type-check the examples
 * where `@sluice/*` does not resolve and then run them.
 *
 *   pnpm docs:examples [--keep]
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const out = path.join(root, "examples", ".doc-examples")
const { values } = parseArgs({ options: { keep: { type: "boolean", default: false } }, strict: true })

interface Example {
  readonly source: string
  /** 1-based line of the example's first code line in `source`. */
  readonly line: number
  readonly code: string
}

/** The fenced ```ts blocks after an `@example` tag, inside JSDoc comments. */
const examplesOf = (source: string): Array<Example> => {
  const lines = fs.readFileSync(source, "utf8").split("\n")
  const examples: Array<Example> = []
  let inExample = false
  let code: Array<string> | undefined
  let start = 0
  lines.forEach((raw, index) => {
    const line = raw.replace(/^\s*\*\s?/, "")
    if (/^\s*\/\*\*/.test(raw) || /\*\/\s*$/.test(raw)) inExample = inExample && !/\*\/\s*$/.test(raw)
    if (line.startsWith("@example")) inExample = true
    else if (line.startsWith("@")) inExample = false
    if (!inExample) return
    if (code === undefined && /^```(ts|typescript)\s*$/.test(line)) {
      code = []
      start = index + 2
    } else if (code !== undefined && line.startsWith("```")) {
      examples.push({ source, line: start, code: code.join("\n") })
      code = undefined
    } else if (code !== undefined) code.push(line)
  })
  return examples
}

const publicModules = (pkg: string): Array<string> => {
  const dir = path.join(root, "packages", pkg, "src")
  return fs
    .readdirSync(dir)
    .filter((file) => file.endsWith(".ts"))
    .map((file) => path.join(dir, file))
}

const packages = fs.readdirSync(path.join(root, "packages")).filter((pkg) => {
  const manifest = path.join(root, "packages", pkg, "package.json")
  return fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, "utf8")).private !== true
})

fs.rmSync(out, { recursive: true, force: true })
fs.mkdirSync(out, { recursive: true })
const written = new Map<string, Example>()
for (const pkg of packages) {
  for (const source of publicModules(pkg)) {
    examplesOf(source).forEach((example, n) => {
      const file = `${pkg}-${path.basename(source, ".ts")}-${n + 1}.ts`
      // Examples show a fragment of a program: unused names are fine, top-level await too.
      fs.writeFileSync(path.join(out, file), `${example.code}\nexport {}\n`)
      written.set(file, example)
    })
  }
}
fs.writeFileSync(
  path.join(out, "tsconfig.json"),
  JSON.stringify({
    extends: "../../tsconfig.base.json",
    compilerOptions: {
      noEmit: true,
      composite: false,
      incremental: false,
      declaration: false,
      declarationMap: false,
      emitDeclarationOnly: false,
      noUnusedLocals: false,
      noUnusedParameters: false,
      types: ["node"]
    },
    include: ["*.ts"]
  })
)

const tsc = spawnSync(path.join(root, "node_modules", ".bin", "tsc"), ["-p", out, "--pretty", "false"], {
  encoding: "utf8"
})
const errors = `${tsc.stdout}${tsc.stderr}`
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => {
    const match = /^(?:.*\/)?([^/(]+\.ts)\((\d+),(\d+)\): (.*)$/.exec(line)
    const example = match === undefined || match === null ? undefined : written.get(match[1]!)
    if (match === null || example === undefined) return line
    const at = example.line + Number(match[2]) - 1
    return `${path.relative(root, example.source)}:${at}: ${match[4]}`
  })
if (!values.keep) fs.rmSync(out, { recursive: true, force: true })
console.log(
  `${written.size} examples from ${packages.join(", ")}: ${errors.length === 0 ? "all type-check" : "errors:"}`
)
for (const error of errors) console.log(`  ${error}`)
process.exit(errors.length === 0 && tsc.status === 0 ? 0 : 1)
