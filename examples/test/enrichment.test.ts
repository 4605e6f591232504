import { describe, expect, it } from "@effect/vitest"
import * as Consumer from "@sluice/core/Consumer"
import * as Pipeline from "@sluice/core/Pipeline"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import { TestCluster } from "@sluice/testkit/TestCluster"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { enriched, enrichment, orders, program } from "../src/enrichment.js"

const readEnriched = Effect.flatMap(TestCluster, (cluster) =>
  Effect.map(cluster.readAll(enriched.name), (records) =>
    records.map((r) => JSON.parse(new TextDecoder().decode(r.value!)) as { id: string; tier: string })
  )
)

describe("enrichment (exactly once)", () => {
  it.live(
    "G10 every order is enriched exactly once, with its offset committed in the same transaction; a restart adds nothing",
    () =>
      Effect.gen(function* () {
        yield* program(300)
        const first = yield* readEnriched
        expect(first.length).toBe(300)
        expect(new Set(first.map((o) => o.id)).size).toBe(300)
        expect(first.find((o) => o.id === "o-33")?.tier).toBe("gold")
        const committed = yield* Effect.flatMap(MemoryKafka.MemoryKafka, (kafka) =>
          kafka.committed("enrichment", orders.name)
        )
        expect([...committed.values()].reduce((sum, c) => sum + c.offset, 0)).toBe(300)
        // The same group again (a restart): it starts from the committed offsets, so nothing is redone.
        const restarted = yield* Effect.fork(
          Pipeline.run(enrichment()).pipe(Effect.provide(Consumer.layer({ groupId: "enrichment" })))
        )
        yield* Effect.flatMap(MemoryKafka.MemoryKafka, (kafka) => kafka.awaitStable("enrichment"))
        yield* Effect.sleep("300 millis")
        yield* Fiber.interrupt(restarted)
        expect((yield* readEnriched).length).toBe(300)
      }).pipe(Effect.provide(MemoryKafka.layerClient({ groupId: "enrichment" })))
  )
})
