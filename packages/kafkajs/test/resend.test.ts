/**
 * `untilAcknowledged` (internal/resend.ts): the records kafkajs resolved a send without
 * acknowledging go again, alone, until each has an offset; the real-broker evidence is the
 * failover suite (F2, F4).
 */
import { describe, expect, it } from "@effect/vitest"
import type { RecordMetadata } from "@sluice/core/ProducerDriver"
import * as Effect from "effect/Effect"
import { untilAcknowledged } from "../src/internal/resend.js"

const meta = (partition: number, offset: number): RecordMetadata => ({ topic: "t", partition, offset })

describe("untilAcknowledged", () => {
  it.effect("F4 records without an offset are sent again, alone, and the metadata keeps the records' order", () =>
    Effect.gen(function* () {
      const calls: Array<ReadonlyArray<string>> = []
      const answers = [
        // kafkajs's answer when partition 1's leader moved during the retry: no offset for b.
        [meta(0, 10), meta(1, -1), meta(2, 7)],
        [meta(1, 4)]
      ]
      const result = yield* untilAcknowledged(["a", "b", "c"], (records) =>
        Effect.sync(() => {
          calls.push(records)
          return answers[calls.length - 1]!
        })
      )
      expect(calls).toEqual([["a", "b", "c"], ["b"]])
      expect(result).toEqual([meta(0, 10), meta(1, 4), meta(2, 7)])
    })
  )

  it.effect("records that never get an offset fail the send with a KafkaError after 6 sends", () =>
    Effect.gen(function* () {
      let calls = 0
      const error = yield* Effect.flip(
        untilAcknowledged(["a", "b"], (records) =>
          Effect.sync(() => {
            calls++
            return records.map((record) => meta(0, record === "a" ? 3 : -1))
          })
        )
      )
      expect(calls).toBe(6)
      expect(error).toMatchObject({ _tag: "KafkaError", operation: "KafkaJsProducer.send" })
      expect(error.message).toContain("did not acknowledge 1 record(s)")
    })
  )

  it.effect("a send's failure is the caller's, not retried here", () =>
    Effect.gen(function* () {
      let calls = 0
      const error = yield* Effect.flip(
        untilAcknowledged(["a"], () =>
          Effect.suspend(() => {
            calls++
            return Effect.fail("boom" as const)
          })
        )
      )
      expect(error).toBe("boom")
      expect(calls).toBe(1)
    })
  )
})
