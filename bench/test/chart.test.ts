import { readFileSync } from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { chart, deployPanel, goalsPanel } from "../lib/chart.js"
import type { DeploySection, Results } from "../lib/results.js"

const results = JSON.parse(readFileSync(path.join(import.meta.dirname, "../results/latest.json"), "utf8")) as Results
const deploy = JSON.parse(readFileSync(path.join(import.meta.dirname, "fixtures/deploy.json"), "utf8")) as Record<
  string,
  DeploySection
>

describe("benchmark chart", () => {
  it("draws the rolling deploy: each contestant's longest unmoved pause, partitions moved, duplicates and losses", () => {
    const panel = deployPanel({ ...results, deploy }).join("\n")
    expect(panel).toContain("7. Rolling deploy, real broker")
    // In the deploy workload's order, then the contestants the chart does not know by name.
    const order = ["kafkajs (eager)", "confluent cooperative", "confluent KIP-848 static", "someday_driver"].map(
      (name) => panel.indexOf(`${name}: `)
    )
    expect(order.every((at) => at >= 0)).toBe(true)
    expect([...order].sort((a, b) => a - b)).toEqual(order)
    expect(panel).toContain("kafkajs (eager): moved ≤ 4, 0 dup, 0 lost")
    expect(panel).toContain("confluent cooperative: moved ≤ 4, 3 dup, 0 lost")
    expect(panel).toContain("confluent KIP-848 static: moved ≤ 0, 0 dup, 0 lost")
    expect(panel).toContain("2,412 ms")
    expect(panel).toContain("130 ms")
    // A contestant that duplicated or lost records is red; the others are Sluice's blue.
    expect(panel.match(/fill="#cf222e"/g)?.length).toBe(2)
    expect(panel).not.toContain("confluent eager:")
  })

  it("says the rolling deploy did not run when the results have no deploy section, and the page draws it", () => {
    const { deploy: _none, ...without } = { ...results, deploy: undefined }
    expect(deployPanel(without as Results).join("\n")).toContain("not run")
    const page = chart({ ...results, deploy })
    expect(page).toContain("7. Rolling deploy, real broker")
    expect(page).toContain("confluent KIP-848 static: moved ≤ 0, 0 dup, 0 lost")
  })

  it("counts the goals met and names each one missed or not measured, all inside the panel", () => {
    const goals: Results["goals"] = [
      { id: "engine_partition", goal: "engine partition", value: 2.2e6, display: "2,200,000 records/s", met: true },
      { id: "rss_vs_raw_kafkajs", goal: "rss", value: 1.21, display: "1.21×", met: false },
      { id: "coldstart", goal: "cold start ≤ 1,000 ms (built)", value: 1243, display: "1,243 ms", met: false },
      { id: "keyed", goal: "keyed", value: Number.NaN, display: "not run", met: undefined },
      ...Array.from({ length: 16 }, (_, i) => ({ id: `g${i}`, goal: `goal ${i}`, value: 1, display: "1", met: true }))
    ]
    const panel = goalsPanel({ ...results, goals }).join("\n")
    expect(panel).toContain("17 of 19 met; not met:")
    expect(panel).toContain("Sluice's peak RSS ≤ 1.2× raw kafkajs's")
    expect(panel).toContain("1.21×: missed")
    expect(panel).toContain("cold start ≤ 1,000 ms (built)")
    expect(panel).toContain("not run")
    expect(panel).not.toContain("goal 3")
    const ys = [...panel.matchAll(/ y="([\d.]+)"/g)].map((m) => Number(m[1]))
    expect(Math.max(...ys)).toBeLessThan(390)
  })
})
