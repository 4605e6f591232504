/**
 * The command line's checks, in process: a missing flag, bad brokers and a bad interval end
 * with a message naming the flag and exit code 2, before anything connects.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { afterEach, beforeEach, vi } from "vitest"
import * as Cli from "../src/Cli.js"

let printed: Array<string> = []

beforeEach(() => {
  printed = []
  vi.spyOn(console, "error").mockImplementation((...args: Array<unknown>) => {
    printed.push(args.map(String).join(" "))
  })
  vi.spyOn(console, "log").mockImplementation((...args: Array<unknown>) => {
    printed.push(args.map(String).join(" "))
  })
})

afterEach(() => {
  vi.restoreAllMocks()
})

/** Runs `sluice <args>` in process: its exit code and what it printed. */
const sluice = (args: ReadonlyArray<string>) =>
  Cli.run(["node", "sluice", ...args]).pipe(
    Effect.as(0),
    Effect.catchAll(Cli.exitCode),
    Effect.provide(NodeContext.layer),
    Effect.map((code) => ({ code, output: printed.join("\n") }))
  )

describe("sluice's flags", () => {
  it.live("a missing --group is exit code 2, with @effect/cli's message", () =>
    Effect.gen(function* () {
      const run = yield* sluice(["lag", "--brokers", "127.0.0.1:9092"])
      expect(run.code).toBe(2)
      expect(run.output).toContain("Expected to find option: '--group'")
    })
  )

  it.live("bad brokers, a zero interval, a negative timeout: exit code 2 naming the flag", () =>
    Effect.gen(function* () {
      expect(yield* sluice(["lag", "--group", "g", "--brokers", "no-port"])).toEqual({
        code: 2,
        output: 'sluice lag: --brokers must be host:port[,host:port…], got "no-port"'
      })
      printed = []
      expect(yield* sluice(["lag", "--group", "g", "--brokers", "k:9092", "--watch", "--interval", "0"])).toEqual({
        code: 2,
        output: "sluice lag: --interval must be a positive number of seconds, got 0"
      })
      printed = []
      expect(yield* sluice(["lag", "--group", "g", "--brokers", "k:9092", "--timeout", "-1"])).toEqual({
        code: 2,
        output: "sluice lag: --timeout must be a positive number of seconds, got -1"
      })
    })
  )

  it.live("--help describes lag and exits 0", () =>
    Effect.gen(function* () {
      const run = yield* sluice(["lag", "--help"])
      expect(run.code).toBe(0)
      expect(run.output).toContain("--group")
      expect(run.output).toContain("--watch")
    })
  )
})
