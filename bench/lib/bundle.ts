/**
 * Bundles a benchmark script the way users deploy a program: one ES module with everything it
 * imports, run with plain `node` (the README's "Starting fast" gives the same esbuild command
 * line). Workload 1 runs every Node contestant this way.
 *
 * Why not `node --import tsx`: tsx compiles each workspace module at start-up and keeps its
 * source map in memory. For Sluice over kafkajs that is 81 modules (core and the driver) and
 * 60–70 MB of peak RSS that no user of the published packages pays; a raw loop is one small
 * file and pays almost none of it. Measured in session 28: Sluice over kafkajs peaked at
 * 427–428 MB under tsx and 364–365 MB bundled, the raw kafkajs loop at 265–268 MB and
 * 240–252 MB.
 *
 * The librdkafka client stays outside the bundle: it loads a native addon next to its own files.
 */
import { mkdirSync } from "node:fs"
import * as path from "node:path"
import { build } from "esbuild"

const benchDir = path.resolve(import.meta.dirname, "..")

/** Inside `bench/`, so that what stays outside the bundle resolves from bench's dependencies. */
const outDir = path.join(benchDir, ".bundles")

const external = ["@confluentinc/kafka-javascript"]

const bundles = new Map<string, Promise<string>>()

/** The bundle of `bench/<script>` (made once per process), as a path to run with `node`. */
export const bundleScript = (script: string): Promise<string> => {
  const made = bundles.get(script)
  if (made !== undefined) return made
  const outfile = path.join(outDir, `${script.replaceAll("/", "_").replace(/\.ts$/, "")}.mjs`)
  const making = (async () => {
    mkdirSync(outDir, { recursive: true })
    await build({
      entryPoints: [path.join(benchDir, script)],
      outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      external,
      logLevel: "warning",
      // Read only by `profile.ts`, to name the module and line of a profiled function; node does
      // not load it (no `--enable-source-maps`), so running the bundle costs nothing more.
      sourcemap: true,
      // kafkajs is CommonJS and requires Node's modules; an ES module bundle gets `require` here.
      banner: { js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);' }
    })
    return outfile
  })()
  bundles.set(script, making)
  return making
}
