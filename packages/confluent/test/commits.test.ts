import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { Commits, timedOut } from "../src/internal/commits.js"
import { expireCommits } from "../src/internal/session.js"

describe("Commits", () => {
  it("settles the commit whose offsets the result names; a failure naming others settles the oldest of its partitions", () => {
    const commits = new Commits()
    const settled: Array<string> = []
    commits.expect([{ topic: "t", partition: 0, offset: 5 }], (e) => settled.push(`a:${e?.message ?? "ok"}`))
    commits.expect([{ topic: "t", partition: 1, offset: 7 }], (e) => settled.push(`b:${e?.message ?? "ok"}`))
    commits.onResult(undefined, [{ topic: "t", partition: 1, offset: 7 }])
    expect(settled).toEqual(["b:ok"])
    // librdkafka leaves invalid offsets out of a failed commit's list: the oldest is settled.
    commits.onResult(new Error("refused"), [{ topic: "t", partition: 0 }])
    expect(settled).toEqual(["b:ok", "a:refused"])
    // A success that names nothing confirms nothing.
    commits.expect([{ topic: "t", partition: 2, offset: 4 }], (e) => settled.push(`c:${e?.message ?? "ok"}`))
    commits.onResult(undefined, [])
    expect(settled).toHaveLength(2)
  })

  it("a commit that stopped waiting (timed out) is never settled", () => {
    const commits = new Commits()
    let calls = 0
    const stop = commits.expect([{ topic: "t", partition: 0, offset: 1 }], () => calls++)
    stop()
    commits.onResult(undefined, [{ topic: "t", partition: 0, offset: 1 }])
    expect(calls).toBe(0)
  })

  it("the late answer to a commit that stopped waiting does not settle a newer commit of other partitions", () => {
    const commits = new Commits()
    const settled: Array<string> = []
    // A commit of partition 0 stopped waiting (its partition was lost), and one of partition 1 waits.
    commits.expect([{ topic: "t", partition: 0, offset: 3 }], () => settled.push("old"))()
    commits.expect([{ topic: "t", partition: 1, offset: 9 }], (e) => settled.push(`new:${e?.message ?? "ok"}`))
    commits.onResult(new Error("ILLEGAL_GENERATION"), [{ topic: "t", partition: 0, offset: 3 }])
    expect(settled).toEqual([])
    commits.onResult(undefined, [{ topic: "t", partition: 1, offset: 9 }])
    expect(settled).toEqual(["new:ok"])
  })

  it("G7 the late success of a commit that stopped waiting never confirms a newer commit of the same partition at another offset", () => {
    const commits = new Commits()
    const settled: Array<string> = []
    // A commit of offset 17 stopped waiting (its partition was lost while the coordinator moved);
    // the partition came back and a commit of offset 25 waits.
    commits.expect([{ topic: "t", partition: 0, offset: 17 }], () => settled.push("old"))()
    commits.expect([{ topic: "t", partition: 0, offset: 25 }], (e) => settled.push(`new:${e?.message ?? "ok"}`))
    // librdkafka answers the old one late: 17 is committed, 25 is not. Were 25 confirmed, the
    // engine would count records 17 to 24 as safe, and a restart would redo them after all.
    commits.onResult(undefined, [{ topic: "t", partition: 0, offset: 17 }])
    expect(settled).toEqual([])
    commits.onResult(undefined, [{ topic: "t", partition: 0, offset: 25 }])
    expect(settled).toEqual(["new:ok"])
  })

  it("a commit with no answer by its deadline is settled as timed out; one before its deadline waits on", () => {
    const commits = new Commits()
    const settled: Array<string> = []
    const name = (e: Error | null) => (e === timedOut ? "timed out" : (e?.message ?? "ok"))
    commits.expect([{ topic: "t", partition: 0, offset: 5 }], (e) => settled.push(`a:${name(e)}`), 1_000)
    commits.expect([{ topic: "t", partition: 1, offset: 7 }], (e) => settled.push(`b:${name(e)}`), 2_000)
    commits.expire(999)
    expect(settled).toEqual([])
    commits.expire(1_000)
    expect(settled).toEqual(["a:timed out"])
    // Its late answer settles nothing; the other commit still takes its own.
    commits.onResult(undefined, [{ topic: "t", partition: 0, offset: 5 }])
    commits.onResult(undefined, [{ topic: "t", partition: 1, offset: 7 }])
    expect(settled).toEqual(["a:timed out", "b:ok"])
  })

  it.effect("the session's timer ends the wait of a commit that gets no answer within the request timeout", () =>
    Effect.gen(function* () {
      // The test clock: the timer checks every 10 ms (a tenth of the timeout); time moves only when told.
      const commits = new Commits()
      const settled: Array<Error | null> = []
      commits.expect([{ topic: "t", partition: 0, offset: 1 }], (e) => settled.push(e), 100)
      const timer = yield* Effect.fork(expireCommits(commits, Duration.millis(100)))
      yield* TestClock.adjust("90 millis")
      expect(settled).toEqual([])
      yield* TestClock.adjust("10 millis")
      expect(settled).toEqual([timedOut])
      yield* Fiber.interrupt(timer)
    })
  )
})
