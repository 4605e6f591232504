import { describe, expect, it } from "@effect/vitest"
import * as Position from "../src/internal/position.js"

describe("Position.lineUp", () => {
  it("delivers a batch that starts where the partition stands, and advances past its last offset", () => {
    const position = Position.make(10)
    expect(Position.lineUp(position, 10, 14)).toEqual({ _tag: "deliver", from: 10, moved: "no" })
    expect(position.expected).toBe(15)
  })

  it("without a committed offset, the first batch decides", () => {
    const position = Position.make(undefined)
    expect(Position.lineUp(position, 42, 50)).toEqual({ _tag: "deliver", from: 42, moved: "no" })
    expect(position.expected).toBe(51)
  })

  it("a batch overlapping what was delivered is delivered from the expected offset on", () => {
    const position = Position.make(20)
    expect(Position.lineUp(position, 15, 24)).toEqual({ _tag: "deliver", from: 20, moved: "no" })
    expect(position.expected).toBe(25)
  })

  it("a batch starting past the expected offset (fetched before a rebalance) is dropped once", () => {
    const position = Position.make(20)
    expect(Position.lineUp(position, 30, 35)).toEqual({ _tag: "drop" })
    expect(position.expected).toBe(20)
    // kafkajs fetches again from where it stands: the expected offset, delivered normally.
    expect(Position.lineUp(position, 20, 29)).toEqual({ _tag: "deliver", from: 20, moved: "no" })
    expect(position.rejected).toBeUndefined()
  })

  it("when kafkajs insists on the same offset, it moved the position itself, and the driver follows", () => {
    const forward = Position.make(20)
    expect(Position.lineUp(forward, 30, 35)._tag).toBe("drop")
    expect(Position.lineUp(forward, 30, 35)).toEqual({ _tag: "deliver", from: 30, moved: "forward" })
    expect(forward.expected).toBe(36)

    const backward = Position.make(20)
    expect(Position.lineUp(backward, 0, 5)._tag).toBe("drop")
    expect(Position.lineUp(backward, 0, 5)).toEqual({ _tag: "deliver", from: 0, moved: "backward" })
    expect(backward.expected).toBe(6)
  })

  it("a batch entirely below the expected offset is dropped", () => {
    const position = Position.make(20)
    expect(Position.lineUp(position, 5, 12)).toEqual({ _tag: "drop" })
    expect(position.expected).toBe(20)
  })

  it("batches kafkajs filtered out entirely move the expected offset forward, never back", () => {
    const position = Position.make(20)
    Position.skipped(position, 24)
    expect(position.expected).toBe(25)
    Position.skipped(position, 3)
    expect(position.expected).toBe(25)
    expect(Position.lineUp(position, 25, 30)._tag).toBe("deliver")
    const unknown = Position.make(undefined)
    Position.skipped(unknown, 9)
    expect(unknown.expected).toBeUndefined()
  })
})
