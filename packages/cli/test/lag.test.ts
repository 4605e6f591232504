/**
 * The lag screen's text, from a group description: the heading, a row per partition, bars
 * scaled to the largest lag, partitions without a committed offset or an owner.
 */
import { describe, expect, it } from "@effect/vitest"
import type { GroupDescription } from "@sluice/core/Admin"
import * as Lag from "../src/Lag.js"

const group: GroupDescription = {
  groupId: "billing",
  state: "Stable",
  members: [
    {
      memberId: "billing-1-aaa",
      clientId: "billing-1",
      host: "10.0.0.7",
      assignment: [{ topic: "orders", partition: 0 }]
    }
  ],
  offsets: [
    { topic: "orders", partition: 0, committed: 90, endOffset: 100, lag: 10 },
    { topic: "orders", partition: 1, committed: undefined, endOffset: 40, lag: undefined },
    { topic: "orders", partition: 2, committed: 50, endOffset: 50, lag: 0 }
  ],
  lag: 10
}

describe("Lag.render", () => {
  it("a heading, then a row per partition with its bar and owner; none where nothing is known", () => {
    const text = Lag.render(group, { barWidth: 10, brokers: "k:9092", at: new Date("2026-01-02T03:04:05Z") })
    expect(text.split("\n")).toEqual([
      "group billing  state Stable  members 1  lag 10  brokers k:9092  at 03:04:05Z",
      "",
      "TOPIC   PARTITION  COMMITTED  END  LAG              OWNER          CLIENT     HOST",
      "orders  0          90         100  10   ██████████  billing-1-aaa  billing-1  10.0.0.7",
      "orders  1          -          40   -                -              -          -",
      "orders  2          50         50   0    ░░░░░░░░░░  -              -          -"
    ])
  })

  it("a small lag still shows one character; a group without partitions says so", () => {
    expect(Lag.bar(1, 1000, 20)).toBe(`█${"░".repeat(19)}`)
    expect(Lag.bar(undefined, 10, 4)).toBe("    ")
    expect(Lag.render({ ...group, members: [], offsets: [], lag: 0, state: "Empty" })).toBe(
      "group billing  state Empty  members 0  lag 0\n\n(no partitions: the group has no committed offsets and no assignment)"
    )
  })
})
