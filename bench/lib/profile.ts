/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and says where the time went: self time per
 * area of the code (the engine, Effect's runtime, the client, the simulated cluster, GC,
 * idle) and per function.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { median } from "./stats.js"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
}

interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

export interface Share {
  readonly name: string
  /** Fraction of the profile's samples (0–1). */
  readonly share: number
}

export interface ProfileSummary {
  readonly seconds: number
  readonly areas: ReadonlyArray<Share>
  readonly functions: ReadonlyArray<Share>
}

/** Names the part of the system a source file belongs to. */
export const areaOf = (url: string, functionName: string): string => {
  if (url === "") {
    if (functionName === "(garbage collector)") return "GC"
    if (functionName === "(idle)") return "idle (waiting: timers, I/O)"
    if (functionName === "(program)") return "V8/native (program)"
    return "native"
  }
  if (url.includes("/packages/core/src/internal/")) return "Sluice engine (core/internal)"
  if (url.includes("/packages/core/src/")) return "Sluice core (API, tracker, metadata)"
  if (url.includes("/packages/kafkajs/src/")) return "Sluice kafkajs driver"
  if (url.includes("/packages/testkit/src/")) return "simulated cluster (testkit)"
  if (url.includes("/effect-kafka/")) return "effect-kafka"
  if (url.includes("/node_modules/effect/") || url.includes("/effect/dist/")) return "Effect runtime"
  if (url.includes("/node_modules/kafkajs/") || url.includes("/kafkajs/src/")) return "kafkajs"
  if (url.includes("/bench/")) return "benchmark harness"
  if (url.startsWith("node:")) return "Node.js"
  return "other"
}

const short = (url: string): string => {
  const at = url.search(/(packages|node_modules|bench)\//)
  const tail = at >= 0 ? url.slice(at) : url
  return tail.replace(/^node_modules\/\.pnpm\/[^/]+\/node_modules\//, "").replace(/^.*node_modules\//, "")
}

// -----------------------------------------------------------------------------------------
// Source positions. A profile's positions name the JavaScript that ran: tsx compiles each
// TypeScript file to one line, and a bundle (`bundle.ts`) is one file of every module. Both
// say nothing until mapped back through a source map: the one tsx cached, or the one esbuild
// wrote next to the bundle.
// -----------------------------------------------------------------------------------------

const base64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/** A mapping of one generated position: its column, and the source file (index) and line it came from. */
type Segment = readonly [column: number, source: number, line: number]

/** Decodes a source map's `mappings`: per generated line, its segments in column order. */
const decodeMappings = (mappings: string): Array<Array<Segment>> => {
  const lines: Array<Array<Segment>> = []
  // Source index and line carry over from line to line; the generated column restarts at 0.
  let source = 0
  let sourceLine = 0
  for (const line of mappings.split(";")) {
    const segments: Array<Segment> = []
    let column = 0
    for (const segment of line.split(",")) {
      if (segment === "") continue
      const fields: Array<number> = []
      let value = 0
      let shift = 0
      for (const char of segment) {
        const digit = base64.indexOf(char)
        value += (digit & 31) << shift
        if (digit & 32) {
          shift += 5
        } else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1)
          value = 0
          shift = 0
        }
      }
      column += fields[0] ?? 0
      if (fields.length >= 4) {
        source += fields[1]!
        sourceLine += fields[2]!
        segments.push([column, source, sourceLine])
      }
    }
    lines.push(segments)
  }
  return lines
}

/** The last segment at or before `column`. */
const segmentAt = (segments: ReadonlyArray<Segment>, column: number): Segment | undefined => {
  if (segments.length === 0) return undefined
  let lo = 0
  let hi = segments.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1
    if (segments[mid]![0] <= column) lo = mid
    else hi = mid - 1
  }
  return segments[lo]
}

const sourceLines = new Map<string, ReadonlyArray<string>>()

/** The text of line `line` (0-based) of `file`, trimmed, or "" when the file is gone. */
const lineText = (file: string, line: number): string => {
  let lines = sourceLines.get(file)
  if (lines === undefined) {
    try {
      lines = readFileSync(file, "utf8").split("\n")
    } catch {
      lines = []
    }
    sourceLines.set(file, lines)
  }
  return (lines[line] ?? "").trim().slice(0, 60)
}

/** Where a profiled function's code came from: its source file, line (1-based) and that line's text. */
interface Original {
  readonly file: string
  readonly line: number
  readonly text: string
}

let tsxIndex: Map<string, ReadonlyArray<Segment>> | undefined

/** The first generated line's segments of the files tsx compiled, by source path (the newest cache entry wins). */
const tsxSources = (): Map<string, ReadonlyArray<Segment>> => {
  if (tsxIndex !== undefined) return tsxIndex
  tsxIndex = new Map()
  const uid = process.getuid?.() ?? 0
  const dir = path.join(os.tmpdir(), `tsx-${uid}`)
  const newest = new Map<string, { readonly time: number; readonly mappings: string }>()
  let entries: Array<string> = []
  try {
    entries = readdirSync(dir)
  } catch {
    return tsxIndex
  }
  for (const entry of entries) {
    try {
      const file = path.join(dir, entry)
      const stat = statSync(file)
      if (!stat.isFile()) continue
      const cached = JSON.parse(readFileSync(file, "utf8")) as {
        readonly map?: { readonly sources?: ReadonlyArray<string>; readonly mappings?: string }
      }
      const source = cached.map?.sources?.[0]
      const mappings = cached.map?.mappings
      if (source === undefined || mappings === undefined) continue
      const known = newest.get(source)
      if (known === undefined || known.time < stat.mtimeMs) newest.set(source, { time: stat.mtimeMs, mappings })
    } catch {
      // Not a cache entry we understand.
    }
  }
  for (const [source, { mappings }] of newest) tsxIndex.set(source, decodeMappings(mappings)[0] ?? [])
  return tsxIndex
}

interface BundleIndex {
  readonly sources: ReadonlyArray<string>
  readonly lines: ReadonlyArray<ReadonlyArray<Segment>>
}

const bundleIndexes = new Map<string, BundleIndex | undefined>()

/** The source map esbuild wrote next to a bundle (`<bundle>.map`), decoded; `undefined` without one. */
const bundleIndex = (file: string): BundleIndex | undefined => {
  if (bundleIndexes.has(file)) return bundleIndexes.get(file)
  let index: BundleIndex | undefined
  try {
    const map = JSON.parse(readFileSync(`${file}.map`, "utf8")) as {
      readonly sources: ReadonlyArray<string>
      readonly mappings: string
    }
    const dir = path.dirname(file)
    index = { sources: map.sources.map((source) => path.resolve(dir, source)), lines: decodeMappings(map.mappings) }
  } catch {
    index = undefined
  }
  bundleIndexes.set(file, index)
  return index
}

/** The original position of a profiled function (tsx-compiled or bundled code), if a source map tells it. */
const originalPosition = (url: string, line: number, column: number): Original | undefined => {
  if (!url.startsWith("file://")) return undefined
  const file = fileURLToPath(url)
  if (file.endsWith(".ts")) {
    if (line !== 0) return undefined
    const segment = segmentAt(tsxSources().get(file) ?? [], column)
    return segment === undefined ? undefined : { file, line: segment[2] + 1, text: lineText(file, segment[2]) }
  }
  if (!file.endsWith(".mjs")) return undefined
  const index = bundleIndex(file)
  const segment = index === undefined ? undefined : segmentAt(index.lines[line] ?? [], column)
  if (index === undefined || segment === undefined) return undefined
  const source = index.sources[segment[1]]!
  return { file: source, line: segment[2] + 1, text: lineText(source, segment[2]) }
}

/** Summarises a `.cpuprofile`; `top` functions by self time. */
export const summarize = (file: string, top = 15): ProfileSummary => {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile
  const byId = new Map<number, ProfileNode>()
  for (const node of profile.nodes) byId.set(node.id, node)
  const areas = new Map<string, number>()
  const functions = new Map<string, number>()
  let total = 0
  // Samples are counted, not weighted by their time deltas: the delta before the first
  // sample and the one spent stopping the profiler would otherwise land on whatever ran
  // then. The sampling interval is regular, so counts are proportional to time.
  const interval = median(profile.timeDeltas.slice(1, -1))
  for (let i = 1; i < profile.samples.length - 1; i++) {
    const node = byId.get(profile.samples[i]!)
    const delta = interval
    if (node === undefined) continue
    total += delta
    const { columnNumber, functionName, lineNumber, url } = node.callFrame
    const original = originalPosition(url, lineNumber, columnNumber)
    // A bundle's area is that of the module the function came from, not the bundle's path.
    const area = areaOf(original === undefined ? url : original.file, functionName)
    areas.set(area, (areas.get(area) ?? 0) + delta)
    const name =
      url === ""
        ? functionName
        : original !== undefined
          ? `${functionName || "(anonymous)"} ${short(original.file)}:${original.line} \`${original.text}\``
          : `${functionName || "(anonymous)"} ${short(url)}:${lineNumber + 1}`
    functions.set(name, (functions.get(name) ?? 0) + delta)
  }
  const rank = (map: Map<string, number>, n: number): Array<Share> =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, time]) => ({ name, share: Number((time / total).toFixed(4)) }))
  return { seconds: total / 1e6, areas: rank(areas, 20), functions: rank(functions, top) }
}
