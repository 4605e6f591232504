/**
 * How a user tests their own pipeline against crashes and rebalances, without a broker: three
 * instances of the inventory pipeline in one group; one crashes, one is fenced by the
 * coordinator, then a storm of rebalances. A `HandlerProbe` records every handler call: nothing
 * is lost, and a record is handled twice only when its first handler's work was never committed.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Consumer from "@sluice/core/Consumer"
import * as Pipeline from "@sluice/core/Pipeline"
import * as Producer from "@sluice/core/Producer"
import * as HandlerProbe from "@sluice/testkit/HandlerProbe"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { inventory, produce, reservations, reserve } from "../src/inventory.js"

const RECORDS = 3000
const group = "inventory"

describe("inventory under crashes and rebalances", () => {
  it.scopedLive("a crash, a fenced member and a rebalance storm: every reservation handled, none lost", () =>
    Effect.gen(function* () {
      const kafka = yield* MemoryKafka.MemoryKafka
      yield* kafka.createTopic(reservations.name, 4)
      yield* produce(RECORDS, 40)

      const probe = yield* HandlerProbe.make({ groupId: group })
      const pipeline = inventory(probe.wrap(reserve))
      const start = (clientId: string) =>
        Effect.fork(
          Pipeline.run(pipeline).pipe(
            Effect.provide(Consumer.layer({ groupId: group, clientId, commitInterval: "50 millis" }))
          )
        )
      const memberOf = (clientId: string) =>
        Effect.map(kafka.awaitStable(group), (g) => g.members.find((m) => m.clientId === clientId)!.memberId)
      const handled = (n: number) =>
        probe.awaitEntries((entries) => entries.filter((e) => e.outcome === "success").length >= n)

      const a = yield* start("a")
      yield* start("b")
      yield* start("c")
      yield* handled(500)

      // a's process dies: no more heartbeats or commits; after its session timeout b and c
      // take its partitions over from its last commit.
      const crashed = yield* memberOf("a")
      yield* kafka.faults.crash(crashed)
      yield* Fiber.interrupt(a)
      yield* handled(1200)

      // The coordinator fences b: its partitions are lost (not revoked) and it rejoins.
      const fenced = yield* memberOf("b")
      yield* kafka.faults.fence(fenced)
      yield* handled(1800)

      // Five forced rebalances in a row, while the work goes on.
      yield* kafka.faults.rebalanceStorm({ times: 5, interval: "100 millis", groupId: group })

      // Wait until everything is committed, then check what the handler saw.
      for (;;) {
        const committed = yield* kafka.committed(group, reservations.name)
        if ([...committed.values()].reduce((sum, c) => sum + c.offset, 0) === RECORDS) break
        yield* Effect.sleep("20 millis")
      }
      const entries = yield* probe.entries
      const succeeded = new Set(entries.filter((e) => e.outcome === "success").map((e) => `${e.partition}:${e.offset}`))
      expect(succeeded.size).toBe(RECORDS) // nothing lost
      // A record handled twice was first handled by a member whose work was not committed.
      const duplicates = yield* probe.duplicates
      const firstHandler = (d: HandlerProbe.Duplicate) =>
        entries.find((e) => e.outcome === "success" && e.partition === d.partition && e.offset === d.offset)!.memberId
      expect(duplicates.filter((d) => firstHandler(d) !== crashed && firstHandler(d) !== fenced)).toEqual([])
      const owners = new Set((yield* kafka.ownershipHistory(group)).map((o) => o.memberId))
      expect(owners.size).toBeGreaterThanOrEqual(4) // a, b, c and b again under a new id
      expect(yield* probe.orderViolations("key")).toEqual([])
    }).pipe(
      Effect.provide(
        Producer.layer.pipe(Layer.provideMerge(MemoryKafka.layer({ seed: 11, sessionTimeout: "1 second" })))
      )
    )
  )
})
