import { describe, expect, it } from "@effect/vitest"
import { OffsetTracker } from "@sluice/core/OffsetTracker"
import * as fc from "fast-check"

/** A reference model: the frontier is the lowest received-and-unfinished offset. */
const modelFrontier = (received: ReadonlyArray<number>, finished: ReadonlySet<number>): number | undefined => {
  if (received.length === 0) return undefined
  for (const offset of received) if (!finished.has(offset)) return offset
  return received[received.length - 1]! + 1
}

// Received offsets: increasing with random gaps (compaction, transaction markers).
const receivedArb = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 300 }).map((steps) => {
  let offset = -1
  return steps.map((step) => (offset += step))
})

describe("OffsetTracker", () => {
  it("G1 the frontier never passes an unfinished received offset, in any finishing order (gaps never block)", () => {
    fc.assert(
      fc.property(
        receivedArb.chain((received) =>
          fc.tuple(fc.constant(received), fc.shuffledSubarray(received), fc.integer({ min: 0, max: 5 }))
        ),
        ([received, finishOrder, extra]) => {
          const tracker = new OffsetTracker()
          for (const offset of received) tracker.receive(offset)
          const finished = new Set<number>()
          for (const offset of finishOrder) {
            expect(tracker.finish(offset)).toBe(true)
            finished.add(offset)
            const frontier = tracker.frontier()
            expect(frontier).toBe(modelFrontier(received, finished))
            // G1: every received offset below the frontier is finished
            for (const r of received) if (frontier !== undefined && r < frontier) expect(finished.has(r)).toBe(true)
          }
          // finishing twice or finishing an unknown offset changes nothing
          if (finishOrder.length > 0) expect(tracker.finish(finishOrder[0]!)).toBe(false)
          expect(tracker.finish(-1 - extra)).toBe(false)
          expect(tracker.unfinished()).toBe(received.length - finished.size)
          const above = tracker.finishedAboveFrontier()
          const frontier = tracker.frontier() ?? 0
          expect(above).toEqual(received.filter((r) => r >= frontier && finished.has(r)))
        }
      ),
      { numRuns: 500 }
    )
  })

  it("in-order finishing keeps memory bounded (the finished prefix is dropped)", () => {
    const tracker = new OffsetTracker()
    for (let i = 0; i < 100_000; i++) {
      tracker.receive(i)
      tracker.finish(i)
    }
    expect(tracker.frontier()).toBe(100_000)
    expect(tracker.unfinished()).toBe(0)
    expect((tracker as unknown as { offsets: Array<number> }).offsets.length).toBeLessThan(2048)
  })

  it("ignores re-delivered offsets", () => {
    const tracker = new OffsetTracker()
    expect(tracker.receive(5)).toBe(true)
    expect(tracker.receive(5)).toBe(false)
    expect(tracker.receive(3)).toBe(false)
    expect(tracker.frontier()).toBe(5)
    expect(tracker.window()).toBe(1)
  })
})
