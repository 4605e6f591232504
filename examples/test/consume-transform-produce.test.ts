import { describe, expect, it } from "@effect/vitest"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import { TestCluster } from "@sluice/testkit/TestCluster"
import * as Effect from "effect/Effect"
import { invoices as invoicesTopic, orders, program } from "../src/consume-transform-produce.js"

describe("consume-transform-produce", () => {
  it.live("every order becomes one invoice, on its customer's partition", () =>
    Effect.gen(function* () {
      yield* program(300)
      const invoices = yield* Effect.flatMap(TestCluster, (cluster) => cluster.readAll(invoicesTopic.name))
      const decoded = invoices.map(
        (r) => JSON.parse(new TextDecoder().decode(r.value!)) as { order: string; vat: number }
      )
      expect(new Set(decoded.map((i) => i.order)).size).toBe(300)
      expect(decoded.find((i) => i.order === "o-250")?.vat).toBe(50)
      const partitionsOf = new Map<string, Set<number>>()
      for (const r of invoices) {
        const key = new TextDecoder().decode(r.key!)
        partitionsOf.set(key, (partitionsOf.get(key) ?? new Set()).add(r.partition))
      }
      expect([...partitionsOf.values()].every((partitions) => partitions.size === 1)).toBe(true)
      const committed = yield* Effect.flatMap(MemoryKafka.MemoryKafka, (kafka) =>
        kafka.committed("invoicing", orders.name)
      )
      expect([...committed.values()].reduce((sum, c) => sum + c.offset, 0)).toBe(300)
    }).pipe(Effect.provide(MemoryKafka.layerClient({ groupId: "invoicing" })))
  )
})
