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
  it("G1 deliveries received as runs or offset by offset, finished in any order over many rounds, keep the model's frontier", () => {
    // Large rounds, so that the reused slots and both compactions (everything finished, and a
    // finished prefix over 1,024 with work left behind it) are all exercised.
    const roundArb = fc.record({
      size: fc.integer({ min: 1, max: 3000 }),
      gap: fc.integer({ min: 0, max: 3 }),
      asRun: fc.boolean(),
      leave: fc.integer({ min: 0, max: 50 }),
      seed: fc.integer()
    })
    fc.assert(
      fc.property(fc.array(roundArb, { minLength: 1, maxLength: 8 }), (rounds) => {
        const tracker = new OffsetTracker()
        const received: Array<number> = []
        const finished = new Set<number>()
        let next = 0
        for (const round of rounds) {
          const first = next + round.gap
          if (round.asRun) {
            expect(tracker.receiveRun(first, round.size)).toBe(true)
          } else {
            for (let i = 0; i < round.size; i++) expect(tracker.receive(first + i)).toBe(true)
          }
          for (let i = 0; i < round.size; i++) received.push(first + i)
          next = first + round.size
          // A run that is not new is refused whole.
          expect(tracker.receiveRun(first, 2)).toBe(false)
          // Finish all unfinished offsets but `leave` of them, in an order drawn from the seed.
          const open = received.filter((offset) => !finished.has(offset))
          let state = round.seed
          for (let i = open.length - 1; i > 0; i--) {
            state = (Math.imul(state, 1103515245) + 12345) | 0
            const j = (state >>> 0) % (i + 1)
            ;[open[i], open[j]] = [open[j]!, open[i]!]
          }
          for (const offset of open.slice(round.leave)) {
            expect(tracker.finish(offset)).toBe(true)
            finished.add(offset)
          }
          expect(tracker.frontier()).toBe(modelFrontier(received, finished))
          expect(tracker.unfinished()).toBe(received.length - finished.size)
          const frontier = tracker.frontier()!
          expect(tracker.finishedAboveFrontier()).toEqual(received.filter((o) => o > frontier && finished.has(o)))
        }
      }),
      { numRuns: 60 }
    )
  })

  it("a run is registered only when it is new", () => {
    const tracker = new OffsetTracker()
    expect(tracker.receiveRun(10, 0)).toBe(false)
    expect(tracker.receiveRun(10, 5)).toBe(true)
    expect(tracker.receiveRun(14, 3)).toBe(false)
    expect(tracker.highestReceived()).toBe(14)
    expect(tracker.frontier()).toBe(10)
    expect(tracker.window()).toBe(5)
  })
})
