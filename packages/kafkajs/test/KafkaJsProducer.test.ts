import { describe, expect, it } from "@effect/vitest"
import { ConsumerDriver } from "@sluice/core/ConsumerDriver"
import { ProducerDriver } from "@sluice/core/ProducerDriver"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { eventually, uniqueName } from "@sluice/testkit/TestHelpers"
import * as Effect from "effect/Effect"
import * as KafkaJsDriver from "../src/KafkaJsDriver.js"
import * as KafkaJsProducer from "../src/KafkaJsProducer.js"
import { createTopic, recorder, subscription } from "./support.js"

const broker = await brokerForTests()

describe.skipIf(broker === undefined)("KafkaJsProducer on a real broker", () => {
  const b = broker?.brokers ?? []

  it.scopedLive("send reports where each record landed, keyed, keyless and with a partition, in one request", () =>
    Effect.gen(function* () {
      const topic = uniqueName("sluice-produce")
      const other = uniqueName("sluice-produce-other")
      yield* createTopic(b, topic, 3)
      yield* createTopic(b, other, 1)
      const producer = yield* ProducerDriver
      const encode = (s: string) => new TextEncoder().encode(s)
      const records = Array.from({ length: 30 }, (_, i) => ({
        topic: i % 10 === 9 ? other : topic,
        key: i % 3 === 0 ? null : encode(`key-${i % 7}`),
        value: encode(`value-${i}`),
        ...(i % 5 === 0 ? { partition: 1 } : {}),
        headers: [{ key: "n", value: encode(String(i)) }]
      }))
      const first = yield* producer.send(records)
      const second = yield* producer.send(records.slice(0, 3))
      yield* producer.flush
      expect(first).toHaveLength(30)
      expect(first.every((m, i) => m.topic === records[i]!.topic && m.partition >= 0 && m.offset >= 0)).toBe(true)
      expect(first.filter((_, i) => i % 5 === 0).every((m) => m.partition === 1)).toBe(true)
      const positions = new Set(first.map((m) => `${m.topic}|${m.partition}|${m.offset}`))
      expect(positions.size).toBe(30)

      // Where the records really are: read them back.
      const reader = recorder()
      const driver = yield* ConsumerDriver
      yield* driver.subscribe({ ...subscription(topic, uniqueName("g")), topics: [topic, other] }, reader.listener)
      yield* eventually(() => reader.records().length === 33, "the 33 records read back")
      const at = new Map(
        reader.records().map((r) => [`${r.topic}|${r.partition}|${r.offset}`, new TextDecoder().decode(r.value!)])
      )
      for (const [sent, i] of [...first.map((m, i) => [m, i] as const), ...second.map((m, i) => [m, i] as const)]) {
        expect(at.get(`${sent.topic}|${sent.partition}|${sent.offset}`)).toBe(`value-${i}`)
      }
      // A keyless record of the second send did not necessarily land where its twin did,
      // but keyed ones follow their key.
      expect(second[1]!.partition).toBe(first[1]!.partition)
      expect(yield* producer.send([])).toEqual([])
    }).pipe(
      Effect.provide(KafkaJsProducer.layer({ brokers: b, clientId: "sluice-test-producer" })),
      Effect.provide(KafkaJsDriver.layer({ brokers: b }))
    )
  )

  it.scopedLive("a send to a missing topic fails with a typed error", () =>
    Effect.gen(function* () {
      const producer = yield* ProducerDriver
      const error = yield* Effect.flip(
        producer.send([{ topic: uniqueName("sluice-nowhere"), key: null, value: new Uint8Array([1]) }])
      )
      expect(error._tag).toBe("KafkaError")
      expect(error.reason).toBe("protocol")
      expect(error.message).toContain("UNKNOWN_TOPIC_OR_PARTITION")
    }).pipe(Effect.provide(KafkaJsProducer.layer({ brokers: b })))
  )
})
