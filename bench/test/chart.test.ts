import { readFileSync } from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { chart, deployPanel } from "../lib/chart.js"
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
})
