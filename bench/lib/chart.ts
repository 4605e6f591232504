/**
 * docs/benchmarks.png: one panel per workload and one for the goals.
 */
import { writeFileSync } from "node:fs"
import { Canvas, type Color, hex } from "./png.js"
import type { Results } from "./results.js"
import { percent, thousands } from "./stats.js"

const ink = hex("#1f2328")
const muted = hex("#656d76")
const grid = hex("#d0d7de")
const sluice = hex("#0969da")
const other = hex("#8c959f")
const broker = hex("#bc4c00")
const good = hex("#1a7f37")
const bad = hex("#cf222e")

const panelWidth = 500
const panelHeight = 390
const top = 70

/** 1234567 → "1.23M", 45600 → "45.6k". */
const short = (value: number): string => {
  if (!Number.isFinite(value)) return "n/a"
  if (value >= 1e6) return `${(value / 1e6).toFixed(value >= 1e7 ? 1 : 2)}M`
  if (value >= 1e3) return `${(value / 1e3).toFixed(value >= 1e5 ? 0 : 1)}k`
  return value.toFixed(value >= 10 ? 0 : 2)
}

interface Panel {
  readonly x: number
  readonly y: number
}

const panelAt = (index: number): Panel => ({
  x: (index % 3) * panelWidth,
  y: top + Math.floor(index / 3) * panelHeight
})

const title = (canvas: Canvas, panel: Panel, text: string, subtitle?: string) => {
  canvas.text(panel.x + 20, panel.y + 14, text, ink, 2)
  if (subtitle !== undefined) canvas.text(panel.x + 20, panel.y + 38, subtitle, muted, 2)
}

const empty = (canvas: Canvas, panel: Panel, text: string) =>
  canvas.text(panel.x + panelWidth / 2, panel.y + panelHeight / 2, text, muted, 2, "center")

interface Bar {
  readonly label: string
  readonly value: number
  readonly color: Color
  readonly text?: string | undefined
}

/** Horizontal bars with their labels above them and values at their ends. */
const horizontalBars = (
  canvas: Canvas,
  panel: Panel,
  bars: ReadonlyArray<Bar>,
  goal?: { value: number; label: string }
) => {
  const left = panel.x + 20
  const width = panelWidth - 150
  const max = Math.max(...bars.map((b) => b.value), goal?.value ?? 0) * 1.05 || 1
  const y0 = panel.y + 72
  const rowHeight = Math.min(70, (panelHeight - 100) / bars.length)
  // The goal first, so that the bars' values are written over it.
  if (goal !== undefined) {
    const x = left + (goal.value / max) * width
    canvas.line(x, y0 + 10, x, y0 + bars.length * rowHeight, bad, 2, 6)
    canvas.text(x, y0 + bars.length * rowHeight + 4, goal.label, bad, 2, "center")
  }
  bars.forEach((bar, i) => {
    const y = y0 + i * rowHeight
    canvas.text(left, y, bar.label, ink, 2)
    const length = Math.max(2, (bar.value / max) * width)
    canvas.rect(left, y + 20, length, 22, bar.color)
    const value = bar.text ?? short(bar.value)
    canvas.rect(left + length + 4, y + 20, Canvas.textWidth(value, 2) + 8, 22, [255, 255, 255])
    canvas.text(left + length + 8, y + 24, value, ink, 2)
  })
}

const throughputPanel = (canvas: Canvas, panel: Panel, r: Results) => {
  const t = r.throughput
  title(
    canvas,
    panel,
    "1. Throughput, real broker",
    t === undefined ? undefined : `records/s, ${short(t.records)} x 100 B`
  )
  if (t === undefined) return empty(canvas, panel, "not run")
  const c = t.contestants
  const bars: Array<Bar> = [
    { label: "(a) raw kafkajs, safe loop", value: c.raw_kafkajs.records_per_sec, color: other },
    { label: "(b) Sluice, partition mode", value: c.sluice.records_per_sec, color: sluice },
    { label: "(c) effect-kafka 0.9.0", value: c.effect_kafka.records_per_sec, color: other }
  ]
  if (c.java !== undefined)
    bars.push({ label: "(d) Java consumer (ceiling)", value: c.java.records_per_sec, color: other })
  horizontalBars(canvas, panel, bars)
  canvas.text(
    panel.x + 20,
    panel.y + panelHeight - 34,
    `b/a ${t.ratio_vs_raw_kafkajs.toFixed(2)}  b/c ${t.ratio_vs_effect_kafka.toFixed(2)}  b/d ${t.ratio_vs_java.toFixed(2)}`,
    sluice,
    2
  )
}

const enginePanel = (canvas: Canvas, panel: Panel, r: Results) => {
  const e = r.engine
  title(canvas, panel, "2. Engine alone, simulated", e === undefined ? undefined : "records/s, no-op handler, 1 core")
  if (e === undefined) return empty(canvas, panel, "not run")
  horizontalBars(
    canvas,
    panel,
    [
      { label: "partition", value: e.records_per_sec.partition, color: sluice },
      { label: `keyed (${e.concurrency})`, value: e.records_per_sec.keyed, color: sluice },
      { label: `unordered (${e.concurrency})`, value: e.records_per_sec.unordered, color: sluice }
    ],
    { value: 1_000_000, label: "goal 1M" }
  )
}

const keyedPanel = (canvas: Canvas, panel: Panel, r: Results) => {
  const k = r.keyed
  title(canvas, panel, "3. Keyed: time / ideal", k === undefined ? undefined : "by distinct keys; red: goal 1.2")
  if (k === undefined) return empty(canvas, panel, "not run")
  const rows = k.memory.map((m) => ({
    keys: m.keys,
    memory: m.ratio_to_ideal,
    broker: k.broker.find((b) => b.keys === m.keys)?.ratio_to_ideal ?? Number.NaN
  }))
  const max = Math.max(1.5, ...rows.flatMap((row) => [row.memory, row.broker].filter(Number.isFinite))) * 1.08
  const left = panel.x + 60
  const right = panel.x + panelWidth - 20
  const bottom = panel.y + panelHeight - 60
  const topY = panel.y + 80
  const yOf = (v: number) => bottom - (v / max) * (bottom - topY)
  const ticks = max > 4 ? [0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20] : [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4]
  for (const tick of ticks.filter((v) => v <= max)) {
    canvas.line(left, yOf(tick), right, yOf(tick), grid, 1)
    canvas.text(left - 8, yOf(tick) - 7, tick.toString(), muted, 2, "right")
  }
  const group = (right - left) / rows.length
  rows.forEach((row, i) => {
    const x = left + i * group + group * 0.15
    const w = group * 0.33
    canvas.rect(x, yOf(row.memory), w, bottom - yOf(row.memory), sluice)
    if (Number.isFinite(row.broker)) canvas.rect(x + w, yOf(row.broker), w, bottom - yOf(row.broker), broker)
    canvas.text(
      left + (i + 0.5) * group,
      bottom + 8,
      row.keys >= 1000 ? `${row.keys / 1000}k` : `${row.keys}`,
      ink,
      2,
      "center"
    )
  })
  // The goal over the bars, so that it shows where they pass it.
  canvas.line(left, yOf(1.2), right, yOf(1.2), bad, 2, 6)
  canvas.rect(panel.x + 60, panel.y + panelHeight - 26, 14, 14, sluice)
  canvas.text(panel.x + 80, panel.y + panelHeight - 24, "simulated", ink, 2)
  canvas.rect(panel.x + 220, panel.y + panelHeight - 26, 14, 14, broker)
  canvas.text(panel.x + 240, panel.y + panelHeight - 24, "real broker", ink, 2)
}

const memoryPanel = (canvas: Canvas, panel: Panel, r: Results) => {
  const m = r.memory
  title(
    canvas,
    panel,
    "4. Memory over the run (MB)",
    m === undefined ? undefined : `${short(m.records)} records; RSS growth ${percent(m.rss_growth)}`
  )
  if (m === undefined) return empty(canvas, panel, "not run")
  const left = panel.x + 80
  const right = panel.x + panelWidth - 40
  const bottom = panel.y + panelHeight - 64
  const topY = panel.y + 80
  const max = Math.max(...m.samples.map((s) => s[1])) * 1.15
  const yOf = (v: number) => bottom - (v / max) * (bottom - topY)
  const xOf = (f: number) => left + f * (right - left)
  const step = 10 ** Math.floor(Math.log10(max / 2))
  const tick = Math.ceil(max / 4 / step) * step
  for (let v = 0; v <= max; v += tick) {
    canvas.line(left, yOf(v), right, yOf(v), grid, 1)
    canvas.text(left - 8, yOf(v) - 7, thousands(v), muted, 2, "right")
  }
  for (const f of [0, 0.5, 1]) canvas.text(xOf(f), bottom + 10, `${f * 100}%`, muted, 2, "center")
  canvas.line(xOf(0.1), topY, xOf(0.1), bottom, muted, 1, 4)
  const series = (index: 1 | 2, color: Color) => {
    for (let i = 1; i < m.samples.length; i++) {
      const a = m.samples[i - 1]!
      const b = m.samples[i]!
      canvas.line(xOf(a[0]), yOf(a[index]), xOf(b[0]), yOf(b[index]), color, 3)
    }
  }
  series(2, other)
  series(1, sluice)
  canvas.rect(panel.x + 80, panel.y + panelHeight - 26, 14, 14, sluice)
  canvas.text(panel.x + 100, panel.y + panelHeight - 24, "RSS", ink, 2)
  canvas.rect(panel.x + 170, panel.y + panelHeight - 26, 14, 14, other)
  canvas.text(panel.x + 190, panel.y + panelHeight - 24, "JS heap used", ink, 2)
  canvas.text(xOf(0.1) + 6, topY, "10%", muted, 2)
}

const revocationPanel = (canvas: Canvas, panel: Panel, r: Results) => {
  const v = r.revocation
  title(canvas, panel, "5. Revocation, real broker", v === undefined ? undefined : `ms; handler ${v.handler_ms} ms`)
  if (v === undefined) return empty(canvas, panel, "not run")
  horizontalBars(canvas, panel, [
    { label: "drain: join to 1st record", value: v.ms.drain, color: sluice, text: `${v.ms.drain} ms` },
    { label: "  old owner revoking", value: v.revoke_ms.drain, color: other, text: `${v.revoke_ms.drain} ms` },
    { label: "interrupt: join to 1st record", value: v.ms.interrupt, color: sluice, text: `${v.ms.interrupt} ms` },
    { label: "  old owner revoking", value: v.revoke_ms.interrupt, color: other, text: `${v.revoke_ms.interrupt} ms` }
  ])
}

const goalsPanel = (canvas: Canvas, panel: Panel, r: Results) => {
  title(canvas, panel, "Goals")
  const labels: Record<string, string> = {
    ratio_vs_raw_kafkajs: "Sluice / raw kafkajs >= 0.95",
    ratio_vs_effect_kafka: "Sluice / effect-kafka >= 1.0",
    engine_partition: "engine >= 1M records/s",
    rss_growth: "RSS growth <= 10%",
    keyed: "keyed <= 1.2x ideal"
  }
  r.goals.forEach((goal, i) => {
    const y = panel.y + 60 + i * 58
    canvas.text(panel.x + 20, y, labels[goal.id] ?? goal.id, ink, 2)
    const color = goal.met === undefined ? muted : goal.met ? good : bad
    const verdict = goal.met === undefined ? "not run" : goal.met ? "met" : "missed"
    canvas.text(panel.x + 40, y + 22, `${goal.display.replace("×", "x")}: ${verdict}`, color, 2)
  })
}

/** Draws the chart of `results` into `file` (PNG). */
export const writeChart = (results: Results, file: string): void => {
  const canvas = new Canvas(panelWidth * 3, top + panelHeight * 2 + 10)
  canvas.text(20, 16, `Sluice benchmarks, ${results.date.slice(0, 10)} (${results.mode} run)`, ink, 3)
  canvas.text(20, 46, `${results.machine.cpu}, ${results.machine.cores} cores, Node ${results.machine.node}`, muted, 2)
  for (let i = 1; i < 3; i++) canvas.line(i * panelWidth, top + 10, i * panelWidth, top + 2 * panelHeight - 10, grid, 1)
  canvas.line(10, top + panelHeight, panelWidth * 3 - 10, top + panelHeight, grid, 1)
  throughputPanel(canvas, panelAt(0), results)
  enginePanel(canvas, panelAt(1), results)
  keyedPanel(canvas, panelAt(2), results)
  memoryPanel(canvas, panelAt(3), results)
  revocationPanel(canvas, panelAt(4), results)
  goalsPanel(canvas, panelAt(5), results)
  writeFileSync(file, canvas.png())
}
