import { readFileSync } from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { rssLadder } from "../lib/report.js"
import type { ContestantSummary, Results } from "../lib/results.js"

const results = JSON.parse(readFileSync(path.join(import.meta.dirname, "../results/latest.json"), "utf8")) as Results
const throughput = results.throughput!

const withPeak = (c: ContestantSummary, peak_rss_mb: number): ContestantSummary => ({ ...c, peak_rss_mb })

describe("benchmark report", () => {
  it("steps the peak-RSS ladder from the raw loop through Effect and Sluice's modules to Sluice", () => {
    const { raw_kafkajs, sluice } = throughput.contestants
    const ladder = rssLadder({
      ...throughput,
      contestants: {
        ...throughput.contestants,
        raw_kafkajs: withPeak(raw_kafkajs, 150),
        raw_kafkajs_effect: withPeak(raw_kafkajs, 156),
        raw_kafkajs_effect_loaded: withPeak(raw_kafkajs, 162),
        sluice: withPeak(sluice, 180)
      }
    })
    expect(ladder).toContain("(a′ − a) 6 MB (1.04×)")
    expect(ladder).toContain("(a″ − a′) 6 MB (1.04×)")
    expect(ladder).toContain("(b − a″) 18 MB (1.11×)")
    expect(ladder).toContain("Sluice over (a′), the same loop written with Effect: 1.15×")
  })

  it("leaves the ladder out for results without its rungs", () => {
    const { raw_kafkajs_effect: _a1, raw_kafkajs_effect_loaded: _a2, ...before } = throughput.contestants
    expect(rssLadder({ ...throughput, contestants: before })).toBe("")
  })
})
