/**
 * docs/benchmarks.svg: one panel per workload and one for the goals, drawn from a results
 * file. Each panel draws in its own coordinates (origin at its top left corner).
 */
import { writeFileSync } from "node:fs"
import type { Results } from "./results.js"
import { percent, thousands } from "./stats.js"
import { document, group, type LineStyle, line, polyline, rect, type TextStyle, text } from "./svg.js"

const ink = "#1f2328"
const muted = "#656d76"
const grid = "#d0d7de"
const sluice = "#0969da"
const other = "#8c959f"
const broker = "#bc4c00"
const good = "#1a7f37"
const bad = "#cf222e"
const font = "system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"

const panelWidth = 500
const panelHeight = 390
const top = 70

const label: TextStyle = { fill: ink, size: 15 }
const small: TextStyle = { fill: muted, size: 14 }
const gridLine: LineStyle = { stroke: grid, width: 1 }
const goalLine: LineStyle = { stroke: bad, width: 2, dash: 6 }

/** 1234567 → "1.23M", 45600 → "45.6k". */
const short = (value: number): string => {
  if (!Number.isFinite(value)) return "n/a"
  if (value >= 1e6) return `${(value / 1e6).toFixed(value >= 1e7 ? 1 : 2)}M`
  if (value >= 1e3) return `${(value / 1e3).toFixed(value >= 1e5 ? 0 : 1)}k`
  return value.toFixed(value >= 10 ? 0 : 2)
}

type Panel = Array<string>

/** The panel's title and, where the workload ran, what its figures are. */
const title = (heading: string, subtitle?: string): Panel => [
  text(20, 26, heading, { ...label, size: 17, weight: "bold" }),
  ...(subtitle === undefined ? [] : [text(20, 50, subtitle, small)])
]

const notRun = (heading: string): Panel => [
  ...title(heading),
  text(panelWidth / 2, panelHeight / 2, "not run", { ...small, anchor: "middle" })
]

/** A coloured square and its name, for a legend along the panel's bottom. */
const legendEntry = (x: number, color: string, name: string): Panel => [
  rect(x, panelHeight - 28, 14, 14, color),
  text(x + 20, panelHeight - 15, name, label)
]

/** Horizontal grid lines at `ticks`, labelled on the left of `left`. */
const yGrid = (
  ticks: ReadonlyArray<number>,
  left: number,
  right: number,
  yOf: (v: number) => number,
  show: (v: number) => string
): Panel =>
  ticks.flatMap((tick) => [
    line(left, yOf(tick), right, yOf(tick), gridLine),
    text(left - 8, yOf(tick) + 5, show(tick), { ...small, anchor: "end" })
  ])

interface Bar {
  readonly label: string
  readonly value: number
  readonly color: string
  readonly text?: string | undefined
  /** Moves the label right: a bar that details the one above it. */
  readonly indent?: number | undefined
}

/** Horizontal bars with their labels above them and values at their ends. */
const horizontalBars = (bars: ReadonlyArray<Bar>, goal?: { value: number; label: string }): Panel => {
  const left = 20
  const width = panelWidth - 150
  const max = Math.max(...bars.map((b) => b.value), goal?.value ?? 0) * 1.05 || 1
  const y0 = 72
  const rowHeight = Math.min(70, (panelHeight - 100) / bars.length)
  const out: Panel = []
  // The goal first, so that the bars' values are written over it.
  if (goal !== undefined) {
    const x = left + (goal.value / max) * width
    out.push(line(x, y0 + 10, x, y0 + bars.length * rowHeight, goalLine))
    out.push(text(x, y0 + bars.length * rowHeight + 18, goal.label, { ...label, fill: bad, anchor: "middle" }))
  }
  bars.forEach((bar, i) => {
    const y = y0 + i * rowHeight
    const length = Math.max(2, (bar.value / max) * width)
    out.push(
      text(left + (bar.indent ?? 0), y + 14, bar.label, label),
      rect(left, y + 20, length, 22, bar.color),
      text(left + length + 6, y + 37, bar.text ?? short(bar.value), { ...label, weight: "bold", halo: true })
    )
  })
  return out
}

const throughputPanel = (r: Results): Panel => {
  const heading = "1. Throughput, real broker"
  const t = r.throughput
  if (t === undefined) return notRun(heading)
  const c = t.contestants
  const bars: Array<Bar> = [
    { label: "(a) raw kafkajs, safe loop", value: c.raw_kafkajs.records_per_sec, color: other },
    { label: "(b) Sluice, partition mode", value: c.sluice.records_per_sec, color: sluice },
    { label: "(c) effect-kafka 0.9.0", value: c.effect_kafka.records_per_sec, color: other }
  ]
  if (c.java !== undefined)
    bars.push({ label: "(d) Java consumer (ceiling)", value: c.java.records_per_sec, color: other })
  const ratio = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : "n/a")
  return [
    ...title(heading, `records/s, ${short(t.records)} × ${t.record_bytes} B`),
    ...horizontalBars(bars),
    text(
      20,
      panelHeight - 20,
      `b/a ${ratio(t.ratio_vs_raw_kafkajs)} · b/c ${ratio(t.ratio_vs_effect_kafka)} · b/d ${ratio(t.ratio_vs_java)}`,
      { ...label, fill: sluice, weight: "bold" }
    )
  ]
}

const enginePanel = (r: Results): Panel => {
  const heading = "2. Engine alone, simulated"
  const e = r.engine
  if (e === undefined) return notRun(heading)
  return [
    ...title(heading, `records/s, no-op handler${e.one_core ? ", 1 core" : ""}`),
    ...horizontalBars(
      [
        { label: "partition", value: e.records_per_sec.partition, color: sluice },
        { label: `keyed (${e.concurrency})`, value: e.records_per_sec.keyed, color: sluice },
        { label: `unordered (${e.concurrency})`, value: e.records_per_sec.unordered, color: sluice }
      ],
      { value: 1_000_000, label: "goal 1M (keyed, unordered; partition 2M)" }
    )
  ]
}

const keyedPanel = (r: Results): Panel => {
  const heading = "3. Keyed: time ÷ ideal"
  const k = r.keyed
  if (k === undefined) return notRun(heading)
  const rows = k.memory.map((m) => ({
    keys: m.keys,
    memory: m.ratio_to_ideal,
    broker: k.broker.find((b) => b.keys === m.keys)?.ratio_to_ideal ?? Number.NaN
  }))
  const max = Math.max(1.5, ...rows.flatMap((row) => [row.memory, row.broker].filter(Number.isFinite))) * 1.08
  const left = 60
  const right = panelWidth - 20
  const bottom = panelHeight - 60
  const topY = 80
  const yOf = (v: number) => bottom - (v / max) * (bottom - topY)
  const ticks = max > 4 ? [0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20] : [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4]
  const groupWidth = (right - left) / rows.length
  const bar = (x: number, width: number, value: number, color: string) =>
    Number.isFinite(value) ? [rect(x, yOf(value), width, bottom - yOf(value), color)] : []
  return [
    ...title(heading, "by distinct keys; dashed: the goal, 1.2"),
    ...yGrid(
      ticks.filter((v) => v <= max),
      left,
      right,
      yOf,
      (v) => v.toString()
    ),
    ...rows.flatMap((row, i) => {
      const x = left + i * groupWidth + groupWidth * 0.15
      const width = groupWidth * 0.33
      return [
        ...bar(x, width, row.memory, sluice),
        ...bar(x + width, width, row.broker, broker),
        text(left + (i + 0.5) * groupWidth, bottom + 22, row.keys >= 1000 ? `${row.keys / 1000}k` : `${row.keys}`, {
          ...label,
          anchor: "middle"
        })
      ]
    }),
    // The goal over the bars, so that it shows where they pass it.
    line(left, yOf(1.2), right, yOf(1.2), goalLine),
    ...legendEntry(60, sluice, "simulated"),
    ...legendEntry(220, broker, "real broker")
  ]
}

const memoryPanel = (r: Results): Panel => {
  const heading = "4. Memory over the run (MB)"
  const m = r.memory
  if (m === undefined) return notRun(heading)
  const left = 80
  const right = panelWidth - 40
  const bottom = panelHeight - 64
  const topY = 80
  const max = Math.max(...m.samples.map((s) => s[1])) * 1.15
  const yOf = (v: number) => bottom - (v / max) * (bottom - topY)
  const xOf = (f: number) => left + f * (right - left)
  const step = 10 ** Math.floor(Math.log10(max / 2))
  const tick = Math.ceil(max / 4 / step) * step
  const ticks = Array.from({ length: Math.floor(max / tick) + 1 }, (_, i) => i * tick)
  const series = (index: 1 | 2, color: string) =>
    polyline(
      m.samples.map((s) => [xOf(s[0]), yOf(s[index])] as const),
      { stroke: color, width: 3 }
    )
  return [
    ...title(heading, `${short(m.records)} records; RSS growth ${percent(m.rss_growth)}`),
    ...yGrid(ticks, left, right, yOf, thousands),
    ...[0, 0.5, 1].map((f) => text(xOf(f), bottom + 22, `${f * 100} %`, { ...small, anchor: "middle" })),
    line(xOf(0.1), topY, xOf(0.1), bottom, { stroke: muted, width: 1, dash: 4 }),
    text(xOf(0.1) + 6, topY + 12, "10 %", { ...small, halo: true }),
    series(2, other),
    series(1, sluice),
    ...legendEntry(80, sluice, "RSS"),
    ...legendEntry(170, other, "JS heap used")
  ]
}

/** A bar of milliseconds; an indented one details the bar above it. */
const msBar = (name: string, ms: number, color: string, indent = 0): Bar => ({
  label: name,
  value: ms,
  color,
  text: `${thousands(ms)} ms`,
  indent
})

const revocationPanel = (r: Results): Panel => {
  const heading = "5. Revocation, real broker"
  const v = r.revocation
  if (v === undefined) return notRun(heading)
  return [
    ...title(heading, `ms; handler ${v.handler_ms} ms`),
    ...horizontalBars([
      msBar("drain: join → first record", v.ms.drain, sluice),
      msBar("old owner revoking", v.revoke_ms.drain, other, 20),
      msBar("interrupt: join → first record", v.ms.interrupt, sluice),
      msBar("old owner revoking", v.revoke_ms.interrupt, other, 20)
    ])
  ]
}

const coldstartPanel = (r: Results): Panel => {
  const heading = "6. Cold start, real broker"
  const c = r.coldstart
  if (c === undefined) return notRun(heading)
  return [
    ...title(heading, `ms, spawn → first record; load ${c.load_average.before[0]?.toFixed(1)}`),
    ...horizontalBars(
      [
        msBar("built packages, plain node", c.built_first_record_ms, sluice),
        ...(c.bundled_first_record_ms === undefined
          ? []
          : [msBar("bundled by esbuild, plain node", c.bundled_first_record_ms, sluice)]),
        msBar("workspace sources under tsx", c.tsx_first_record_ms, other),
        msBar("import @sluice/core", c.import_ms.core, sluice, 20),
        msBar("import @sluice/kafkajs", c.import_ms.kafkajs, sluice, 20),
        msBar("import @sluice/testkit", c.import_ms.testkit, sluice, 20)
      ],
      { value: 1_000, label: "goal 1 s" }
    )
  ]
}

/** The deploy workload's contestants, in the order they run, with names that fit a bar's label. */
const deployNames: ReadonlyArray<readonly [string, string]> = [
  ["kafkajs", "kafkajs (eager)"],
  ["confluent_eager", "confluent eager"],
  ["confluent_cooperative", "confluent cooperative"],
  ["confluent_kip848", "confluent KIP-848"],
  ["confluent_kip848_static", "confluent KIP-848 static"]
]

/**
 * Workload 7 per contestant: the longest pause of a partition that kept its owner (the bar; the
 * goal is none), and in the label the most partitions moved by one restart, duplicates and
 * losses. A contestant that lost or duplicated records is drawn in red.
 */
export const deployPanel = (r: Results): Panel => {
  const heading = "7. Rolling deploy, real broker"
  const d = r.deploy
  if (d === undefined || Object.keys(d).length === 0) return notRun(heading)
  const known = new Set(deployNames.map(([key]) => key))
  const names = [
    ...deployNames,
    ...Object.keys(d)
      .filter((key) => !known.has(key))
      .map((key) => [key, key] as const)
  ]
  const bars = names.flatMap(([key, name]): Array<Bar> => {
    const c = d[key]
    if (c === undefined) return []
    return [
      {
        label: `${name}: moved ≤ ${c.moved_per_restart_max}, ${c.duplicates} dup, ${c.lost} lost`,
        value: c.unmoved_pause_ms_max,
        color: c.duplicates > 0 || c.lost > 0 ? bad : sluice,
        text: `${thousands(c.unmoved_pause_ms_max)} ms`
      }
    ]
  })
  return [
    ...title(heading, "longest pause of an unmoved partition (goal 0)"),
    ...horizontalBars(bars),
    text(20, panelHeight - 20, "moved: most partitions one restart moved", small)
  ]
}

/** Shorter names than the results' own, to fit a panel. */
const goalLabels: Record<string, string> = {
  ratio_vs_raw_kafkajs: "Sluice ÷ raw kafkajs ≥ 1.0",
  rss_vs_raw_kafkajs: "Sluice's peak RSS ≤ 1.2× raw kafkajs's",
  ratio_confluent_vs_raw: "Sluice ÷ raw librdkafka (f/e) ≥ 1.0",
  observability_non_recording_tracer: "no-op tracer ≤ 5 % CPU (engine)",
  observability_otel_non_recording_tracer: "OpenTelemetry, not recording, ≤ 5 % CPU (engine)",
  observability_noop_tracer_broker: "no-op tracer ≤ 5 % records/s (broker)",
  observability_non_recording_tracer_broker: "OpenTelemetry, not recording, ≤ 5 % records/s (broker)",
  ratio_vs_effect_kafka: "Sluice ÷ effect-kafka ≥ 1.0",
  engine_partition: "engine partition ≥ 2M records/s",
  rss_growth: "RSS growth ≤ 10 %",
  keyed: "keyed ≤ 1.2× ideal"
}

/**
 * How many goals were met, then each one missed or not measured. A line per goal no longer fits
 * the panel (twenty goals since session 33: the last fourteen fell below the page); the full list
 * is the results page's goal table.
 */
export const goalsPanel = (r: Results): Panel => {
  const judged = r.goals.filter((goal) => goal.met !== undefined)
  const met = judged.filter((goal) => goal.met === true).length
  const rest = r.goals.filter((goal) => goal.met !== true)
  const rowHeight = Math.min(58, (panelHeight - 110) / Math.max(1, rest.length))
  return [
    ...title("Goals", "the full list: docs/benchmarks.md"),
    text(20, 86, `${met} of ${judged.length} met${rest.length === 0 ? "" : "; not met:"}`, {
      ...label,
      fill: met === judged.length ? good : ink,
      weight: "bold"
    }),
    ...rest.flatMap((goal, i) => {
      const y = 100 + i * rowHeight
      // Without a verdict, the display says why ("not run", "n/a").
      const result = goal.met === undefined ? goal.display : `${goal.display}: missed`
      return [
        text(20, y + 14, goalLabels[goal.id] ?? goal.goal, small),
        text(40, y + 30, result, { ...small, fill: goal.met === undefined ? muted : bad, weight: "bold" })
      ]
    })
  ]
}

/** The chart of `results` as an SVG document. */
export const chart = (results: Results): string => {
  const panels = [
    throughputPanel,
    enginePanel,
    keyedPanel,
    memoryPanel,
    revocationPanel,
    coldstartPanel,
    deployPanel,
    goalsPanel
  ]
  const columns = 4
  const rows = Math.ceil(panels.length / columns)
  const heading = `Sluice benchmarks, ${results.date.slice(0, 10)} (${results.mode} run)`
  return document(panelWidth * columns, top + panelHeight * rows + 10, heading, font, [
    text(20, 36, heading, { ...label, size: 24, weight: "bold" }),
    text(20, 60, `${results.machine.cpu}, ${results.machine.cores} cores, Node ${results.machine.node}`, small),
    ...Array.from({ length: columns - 1 }, (_, i) =>
      line((i + 1) * panelWidth, top + 10, (i + 1) * panelWidth, top + rows * panelHeight - 10, gridLine)
    ),
    ...Array.from({ length: rows - 1 }, (_, i) =>
      line(10, top + (i + 1) * panelHeight, panelWidth * columns - 10, top + (i + 1) * panelHeight, gridLine)
    ),
    ...panels.map((panel, i) =>
      group((i % columns) * panelWidth, top + Math.floor(i / columns) * panelHeight, panel(results))
    )
  ])
}

/** Draws the chart of `results` into `file`. */
export const writeChart = (results: Results, file: string): void => writeFileSync(file, chart(results))
