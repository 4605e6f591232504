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
// Source positions. tsx compiles each TypeScript file to one line of JavaScript, so a
// profile's positions say nothing until mapped back through the source map tsx cached.
// -----------------------------------------------------------------------------------------

const base64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/** Decodes the first generated line of a source map: [generated column, original line] pairs. */
const firstLineSegments = (mappings: string): Array<readonly [number, number]> => {
  const out: Array<readonly [number, number]> = []
  let column = 0
  let sourceLine = 0
  const line = mappings.split(";")[0] ?? ""
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
      sourceLine += fields[2]!
      out.push([column, sourceLine])
    }
  }
  return out
}

interface SourceIndex {
  readonly segments: Array<readonly [number, number]>
  readonly lines: ReadonlyArray<string>
}

let sourceIndex: Map<string, SourceIndex> | undefined

/** Source maps of the files tsx compiled, by source path (the newest cache entry wins). */
const tsxSources = (): Map<string, SourceIndex> => {
  if (sourceIndex !== undefined) return sourceIndex
  sourceIndex = new Map()
  const uid = process.getuid?.() ?? 0
  const dir = path.join(os.tmpdir(), `tsx-${uid}`)
  const newest = new Map<string, { readonly time: number; readonly mappings: string }>()
  let entries: Array<string> = []
  try {
    entries = readdirSync(dir)
  } catch {
    return sourceIndex
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
  for (const [source, { mappings }] of newest) {
    try {
      sourceIndex.set(source, {
        segments: firstLineSegments(mappings),
        lines: readFileSync(source, "utf8").split("\n")
      })
    } catch {
      // The source is gone.
    }
  }
  return sourceIndex
}

/** The original line (1-based) and its text for a position in a tsx-compiled file, if known. */
const originalPosition = (url: string, column: number): { line: number; text: string } | undefined => {
  if (!url.startsWith("file://") || !url.endsWith(".ts")) return undefined
  const index = tsxSources().get(fileURLToPath(url))
  if (index === undefined || index.segments.length === 0) return undefined
  let lo = 0
  let hi = index.segments.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1
    if (index.segments[mid]![0] <= column) lo = mid
    else hi = mid - 1
  }
  const line = index.segments[lo]![1]
  return { line: line + 1, text: (index.lines[line] ?? "").trim().slice(0, 60) }
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
    const area = areaOf(url, functionName)
    areas.set(area, (areas.get(area) ?? 0) + delta)
    const original = lineNumber === 0 ? originalPosition(url, columnNumber) : undefined
    const name =
      url === ""
        ? functionName
        : original !== undefined
          ? `${functionName || "(anonymous)"} ${short(url)}:${original.line} \`${original.text}\``
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
