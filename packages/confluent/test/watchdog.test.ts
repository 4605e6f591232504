import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ConfluentConfig from "../src/ConfluentConfig.js"
import * as ConfluentDriver from "../src/ConfluentDriver.js"
import * as Properties from "../src/internal/properties.js"
import { groupState, inGroup, Watchdog } from "../src/internal/watchdog.js"
import { subscription as fixture } from "./support.js"

/** The shape of librdkafka 2.15.1's statistics (`rdkafka.c:2097-2119`), trimmed. */
const statistics = (state: string, joinState: string) =>
  JSON.stringify({
    name: "sluice#consumer-1",
    type: "consumer",
    brokers: {},
    topics: {},
    cgrp: {
      state,
      stateage: 1200,
      join_state: joinState,
      rebalance_age: 1100,
      rebalance_cnt: 1,
      rebalance_reason: "",
      assignment_size: 0
    }
  })

const up = { state: "up", joinState: "steady" }
const lost = { state: "wait-coord", joinState: "init" }

describe("the rejoin watchdog", () => {
  it("reads the group's state from librdkafka's statistics, and nothing from statistics without a group", () => {
    expect(groupState(statistics("up", "steady"))).toEqual(up)
    expect(groupState(statistics("query-coord", "wait-join"))).toEqual({ state: "query-coord", joinState: "wait-join" })
    expect(groupState(JSON.stringify({ name: "p", type: "producer" }))).toBeUndefined()
    expect(groupState("{ not json")).toBeUndefined()
    // A topic named cgrp comes before the group's object, and its partitions nest objects.
    const trap = JSON.stringify({
      topics: { cgrp: { partitions: { "0": { fetch_state: "active" } } } },
      cgrp: { state: "wait-coord", join_state: "init", rebalance_reason: "a {brace} in a reason" }
    })
    expect(groupState(trap)).toEqual(lost)
    expect(groupState(JSON.stringify({ topics: { cgrp: { partitions: {} } } }))).toBeUndefined()
  })

  it("a classic member is in its group once it took its assignment; a KIP-848 one once it has a coordinator", () => {
    expect(inGroup(up, "classic")).toBe(true)
    expect(inGroup({ state: "up", joinState: "wait-join" }, "classic")).toBe(false)
    expect(inGroup(lost, "classic")).toBe(false)
    // Given nothing by the broker, a KIP-848 member stays in join state init.
    expect(inGroup({ state: "up", joinState: "init" }, "consumer")).toBe(true)
    expect(inGroup(lost, "consumer")).toBe(false)
  })

  it("fires only for a member that owns nothing and was seen out of its group longer than the timeout", () => {
    const watchdog = new Watchdog(1000, "classic", 0)
    // No statistics yet: never.
    expect(watchdog.due(5000, 0)).toBe(false)
    watchdog.observe(up, 5000)
    expect(watchdog.due(9000, 0)).toBe(false)
    watchdog.observe(lost, 10_000)
    expect(watchdog.outFor(10_500)).toBe(500)
    expect(watchdog.due(10_900, 0)).toBe(false)
    expect(watchdog.due(11_100, 0)).toBe(true)
    // A member that still owns partitions is never replaced: they would be lost.
    expect(watchdog.due(11_100, 2)).toBe(false)
    expect(watchdog.describe()).toBe("state wait-coord, join state init")
    // Back in its group: the clock stops.
    watchdog.observe(up, 11_200)
    expect(watchdog.due(20_000, 0)).toBe(false)
  })

  it("after each replacement the timeout doubles, until the member is in its group again", () => {
    const watchdog = new Watchdog(1000, "classic", 0)
    watchdog.observe(lost, 0)
    expect(watchdog.due(1001, 0)).toBe(true)
    watchdog.restart(1001, true)
    watchdog.observe(lost, 1500)
    expect(watchdog.due(2500, 0)).toBe(false)
    expect(watchdog.due(3002, 0)).toBe(true)
    watchdog.restart(3002, true)
    watchdog.observe(lost, 3100)
    expect(watchdog.due(7002, 0)).toBe(false)
    expect(watchdog.due(7003, 0)).toBe(true)
    // In its group once: the next time out starts from the configured timeout.
    watchdog.observe(up, 7100)
    watchdog.observe(lost, 8000)
    expect(watchdog.due(9001, 0)).toBe(true)
    // An infinite timeout is the watchdog turned off.
    const off = new Watchdog(Number.POSITIVE_INFINITY, "classic", 0)
    off.observe(lost, 0)
    expect(off.due(Number.MAX_SAFE_INTEGER, 0)).toBe(false)
  })

  it.effect(
    "rejoinTimeout: a positive duration or off; by default the rebalance, session and request timeouts; it sets the statistics interval",
    () =>
      Effect.gen(function* () {
        const config = ConfluentConfig.resolve({ brokers: ["a:1"] })
        const subscription = fixture()
        const defaults = yield* ConfluentDriver.resolveOptions()
        // 60 s rebalance + 10 s session + 10 s request.
        expect(Duration.toMillis(Properties.rejoinTimeout(config, subscription, defaults))).toBe(80_000)
        expect(Properties.consumer(config, subscription, defaults)["statistics.interval.ms"]).toBe(5000)
        const short = yield* ConfluentDriver.resolveOptions({ rejoinTimeout: "2 seconds" })
        expect(Properties.consumer(config, subscription, short)["statistics.interval.ms"]).toBe(500)
        const off = yield* ConfluentDriver.resolveOptions({ rejoinTimeout: "off" })
        expect(Properties.consumer(config, subscription, off)).not.toHaveProperty("statistics.interval.ms")
        // The user's interval stands.
        const own = ConfluentConfig.resolve({ brokers: ["a:1"], librdkafka: { "statistics.interval.ms": 0 } })
        expect(Properties.consumer(own, subscription, defaults)["statistics.interval.ms"]).toBe(0)
        const bad = yield* Effect.flip(ConfluentDriver.resolveOptions({ rejoinTimeout: "soon" as never }))
        expect(bad).toMatchObject({ _tag: "SettingsError", setting: "rejoinTimeout" })
        expect(bad.message).toContain("rejoinTimeout")
        const negative = yield* Effect.flip(ConfluentDriver.resolveOptions({ rejoinTimeout: -5 }))
        expect(negative.setting).toBe("rejoinTimeout")
        const read = (value: string) =>
          Effect.withConfigProvider(
            ConfluentDriver.config,
            ConfigProvider.fromMap(new Map([["KAFKA_REJOIN_TIMEOUT", value]]), { pathDelim: "_" })
          )
        expect((yield* read("off")).rejoinTimeout).toBe("off")
        expect(
          Duration.toMillis(Duration.decode((yield* read("90 seconds")).rejoinTimeout as Duration.DurationInput))
        ).toBe(90_000)
      })
  )
})
