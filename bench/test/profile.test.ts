import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { build } from "esbuild"
import { afterAll, describe, expect, it } from "vitest"
import { summarize } from "../lib/profile.js"

const dir = mkdtempSync(path.join(os.tmpdir(), "sluice-profile-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Where `needle` starts in `text`, as a profile's 0-based line and column. */
const positionOf = (text: string, needle: string): { line: number; column: number } => {
  const at = text.indexOf(needle)
  expect(at).toBeGreaterThanOrEqual(0)
  const before = text.slice(0, at).split("\n")
  return { line: before.length - 1, column: before[before.length - 1]!.length }
}

describe("CPU profiles of a bundle", () => {
  it("name the module and line a bundled function came from, through the bundle's source map", async () => {
    const outfile = path.join(dir, "entry.mjs")
    // Resolved from bench/, as `lib/bundle.ts` bundles the workloads.
    await build({
      stdin: {
        contents:
          'import { OffsetTracker } from "@sluice/core/OffsetTracker"\nexport const tracker = new OffsetTracker()\n',
        resolveDir: path.resolve(import.meta.dirname, ".."),
        sourcefile: "entry.ts",
        loader: "ts"
      },
      outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      sourcemap: true,
      logLevel: "warning"
    })
    const bundle = readFileSync(outfile, "utf8")
    const finish = positionOf(bundle, "finish(offset) {")
    const url = pathToFileURL(outfile).href
    // Three samples in the tracker's `finish`, one in the bundle's entry code (its top level).
    const profile = {
      nodes: [
        { id: 1, callFrame: { functionName: "(root)", url: "", lineNumber: -1, columnNumber: -1 } },
        { id: 2, callFrame: { functionName: "finish", url, lineNumber: finish.line, columnNumber: finish.column } },
        { id: 3, callFrame: { functionName: "", url, lineNumber: 0, columnNumber: 0 } }
      ],
      samples: [1, 2, 2, 2, 3, 1],
      timeDeltas: [0, 100, 100, 100, 100, 100]
    }
    const file = path.join(dir, "entry.cpuprofile")
    writeFileSync(file, JSON.stringify(profile))

    const summary = summarize(file)
    expect(summary.areas[0]).toEqual({ name: "Sluice core (API, tracker, metadata)", share: 0.75 })
    const source = readFileSync(path.resolve(import.meta.dirname, "../../packages/core/src/OffsetTracker.ts"), "utf8")
    const line = positionOf(source, "finish(offset: number): boolean {").line + 1
    expect(summary.functions[0]?.name).toBe(
      `finish packages/core/src/OffsetTracker.ts:${line} \`finish(offset: number): boolean {\``
    )
  })
})
