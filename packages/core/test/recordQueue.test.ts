import { describe, expect, it } from "@effect/vitest"
import type { RawRecord } from "@sluice/core/ConsumerRecord"
import * as fc from "fast-check"
import { RecordQueue } from "../src/internal/recordQueue.js"

const record = (offset: number): RawRecord => ({
  topic: "t",
  partition: 0,
  offset,
  key: null,
  value: null,
  headers: [],
  timestamp: 0
})

describe("RecordQueue", () => {
  it("gives the records back in the order they were queued, across chunks, compactions and reuse", () => {
    // Steps: queue a chunk of n records (n > 0), or take up to n (n < 0).
    const stepArb = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: -60, max: -1 }))
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 4000 }), (steps) => {
        const queue = new RecordQueue()
        const model: Array<RawRecord> = []
        let next = 0
        for (const step of steps) {
          if (step >= 0) {
            const chunk = Array.from({ length: step }, () => record(next++))
            queue.pushAll(chunk)
            model.push(...chunk)
          } else {
            for (let i = 0; i < -step; i++) expect(queue.shift()).toBe(model.shift())
          }
          expect(queue.length).toBe(model.length)
        }
        while (model.length > 0) expect(queue.shift()).toBe(model.shift())
        expect(queue.shift()).toBeUndefined()
        expect(queue.length).toBe(0)
      }),
      { numRuns: 50 }
    )
  })

  it("keeps its chunk array bounded when it never empties", () => {
    const queue = new RecordQueue()
    let next = 0
    let expected = 0
    for (let i = 0; i < 50_000; i++) {
      queue.pushAll([record(next++), record(next++)])
      expect(queue.shift()?.offset).toBe(expected++)
      expect(queue.shift()?.offset).toBe(expected++)
      if (i === 0) queue.pushAll([record(next++)])
    }
    expect(queue.length).toBe(1)
    expect((queue as unknown as { chunks: Array<unknown> }).chunks.length).toBeLessThan(4096)
  })

  it("clear drops everything and tells how much", () => {
    const queue = new RecordQueue()
    queue.pushAll([record(0), record(1)])
    queue.pushAll([record(2)])
    queue.shift()
    expect(queue.clear()).toBe(2)
    expect(queue.length).toBe(0)
    expect(queue.shift()).toBeUndefined()
    queue.pushAll([record(7)])
    expect(queue.shift()?.offset).toBe(7)
  })
})
