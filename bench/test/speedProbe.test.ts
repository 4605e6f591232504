import { describe, expect, it } from "vitest"
import { countedRuns, inSpell, slowedBy, speedProbe, usualProbe } from "../lib/speedProbe.js"

const run = (name: string, before: number, after: number) => ({ name, probes: { before, after } })

describe("the speed probe and slow spells", () => {
  it("times the bare Effect loop in milliseconds", () => {
    const ms = speedProbe()
    expect(Number.isFinite(ms)).toBe(true)
    expect(ms).toBeGreaterThan(0)
  })

  it("judges a run by the slower of its two probes against the lower quartile of the runs' slower probes", () => {
    const runs = [run("a", 30, 31), run("b", 32, 29), run("c", 29, 45), run("d", 50, 30), run("e", 33, 30)]
    // Slower probes 31, 32, 33, 45, 50: the lower quartile is the second, 32.
    expect(usualProbe(runs)).toBe(32)
    // Half the runs in a spell: the usual speed is still the fast half's.
    expect(usualProbe([run("a", 35, 34), run("b", 36, 30), run("c", 55, 50), run("d", 60, 58)])).toBe(35)
    expect(slowedBy(runs[2]!.probes, 33)).toBeCloseTo(45 / 33)
    expect(slowedBy(runs[3]!.probes, 32)).toBeCloseTo(50 / 32)
    expect(runs.filter((r) => inSpell(r, 33)).map((r) => r.name)).toEqual(["c", "d"])
    // 1.25 × 33 = 41.25: a spell that began after the run (probe after) counts as much as one before.
    expect(inSpell(run("edge", 41.2, 20), 33)).toBe(false)
    expect(inSpell(run("over", 20, 41.3), 33)).toBe(true)
  })

  it("counts only the runs at the usual speed while three are left, and all of them otherwise", () => {
    const runs = [run("a", 30, 31), run("b", 32, 29), run("c", 29, 45), run("d", 50, 30), run("e", 33, 30)]
    expect(countedRuns(runs, 33).map((r) => r.name)).toEqual(["a", "b", "e"])
    const mostlySlow = [run("a", 30, 31), run("b", 60, 29), run("c", 29, 45), run("d", 50, 30)]
    expect(countedRuns(mostlySlow, 33).map((r) => r.name)).toEqual(["a", "b", "c", "d"])
    expect(Number.isNaN(usualProbe([]))).toBe(true)
  })
})
