import { describe, expect, it } from "@effect/vitest"
import { ConsumerDriver } from "@sluice/core/ConsumerDriver"
import type { ProducerRecord } from "@sluice/core/ProducerDriver"
import * as Effect from "effect/Effect"
import * as MemoryKafka from "../src/MemoryKafka.js"
import { subscription } from "./support.js"

// A sanity check, not a timed assertion: machines differ. It logs what the simulated
// cluster delivers per second to a listener that does nothing, under the live clock.
const RECORDS = 1_000_000
const PARTITIONS = 8

describe("memory: throughput", () => {
  it.scopedLive(
    `delivers ${RECORDS.toLocaleString("en")} records to a no-op listener`,
    () =>
      Effect.gen(function* () {
        const kafka = yield* MemoryKafka.MemoryKafka
        const driver = yield* ConsumerDriver
        yield* kafka.createTopic("bench", PARTITIONS)
        const value = new TextEncoder().encode("x".repeat(100))
        const produceStart = performance.now()
        const batch: Array<ProducerRecord> = []
        for (let i = 0; i < RECORDS; i++) {
          batch.push({ topic: "bench", partition: i % PARTITIONS, key: null, value })
          if (batch.length === 10_000) {
            yield* kafka.produce(batch)
            batch.length = 0
          }
        }
        const produced = performance.now() - produceStart

        let received = 0
        let done: (() => void) | undefined
        const finished = new Promise<void>((resolve) => (done = resolve))
        const start = performance.now()
        yield* driver.subscribe(
          subscription("bench", ["bench"], { maxBytesPerPartition: 16 * 1_048_576, clientId: "bench" }),
          {
            onAssigned: () => Effect.void,
            onRevoked: () => Effect.void,
            onLost: () => Effect.void,
            onRecords: (_tp, records) =>
              Effect.sync(() => {
                received += records.length
                if (received >= RECORDS) done?.()
              })
          }
        )
        yield* Effect.tryPromise(() => finished)
        const seconds = (performance.now() - start) / 1000
        const rate = Math.round(RECORDS / seconds)
        console.info(
          `[sluice] memory cluster: produced ${RECORDS.toLocaleString("en")} records in ${produced.toFixed(0)} ms ` +
            `(${Math.round(RECORDS / (produced / 1000)).toLocaleString("en")} records/s); delivered them in ` +
            `${(seconds * 1000).toFixed(0)} ms: ${rate.toLocaleString("en")} records/s (batches of 500)`
        )
        expect(received).toBe(RECORDS)
      }).pipe(Effect.provide(MemoryKafka.layer())),
    120_000
  )
})
