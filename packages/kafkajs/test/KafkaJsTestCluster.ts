/**
 * The testkit's `TestCluster` on a real broker through kafkajs: topics, records and committed
 * offsets for the conformance suite when it runs against this driver.
 *
 * It lives with the driver's tests, not in the testkit, so that the testkit depends on
 * `@sluice/core` only; its records and logs go through the driver's own conversions and log
 * bridge.
 */

import type { RawRecord } from "@sluice/core/ConsumerRecord"
import type * as KafkaError from "@sluice/core/KafkaError"
import type { ProducerRecord } from "@sluice/core/ProducerDriver"
import type { SettingsError } from "@sluice/core/SettingsError"
import { TestCluster } from "@sluice/testkit/TestCluster"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type Admin, Kafka, logLevel } from "kafkajs"
import { logCreator } from "../src/internal/log.js"
import { toRawRecord } from "../src/internal/records.js"
import { toKafkaError } from "../src/KafkaJsError.js"
import * as KafkaJsProducer from "../src/KafkaJsProducer.js"

const clientId = "sluice-testkit"

/**
 * A `TestCluster` on the brokers `brokers` (e.g. from the testkit's `KafkaBroker`). Its
 * admin and producer connect when the layer is built and disconnect with its scope.
 */
export const layer = (
  brokers: ReadonlyArray<string>
): Layer.Layer<TestCluster, KafkaError.KafkaError | SettingsError> =>
  Layer.scoped(
    TestCluster,
    Effect.gen(function* () {
      const runtime = yield* Effect.runtime<never>()
      // kafkajs's WARN and ERROR lines through Effect's logger; the rest is test noise.
      const kafka = new Kafka({
        clientId,
        brokers: [...brokers],
        logLevel: logLevel.WARN,
        logCreator: logCreator(runtime, logLevel.WARN)
      })
      const admin: Admin = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: async () => {
            const client = kafka.admin()
            await client.connect()
            return client
          },
          catch: (error) => toKafkaError(error, "KafkaJsTestCluster.connect")
        }),
        (client) => Effect.tryPromise(() => client.disconnect()).pipe(Effect.ignore)
      )
      const producer = yield* KafkaJsProducer.make({ brokers, clientId, logLevel: "warn" })

      const createTopic = (topic: string, partitions: number) =>
        Effect.tryPromise({
          // `false` when the topic exists already (kafkajs ignores TOPIC_ALREADY_EXISTS);
          // `waitForLeaders` waits until every partition has a leader in the metadata.
          try: () => admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true }),
          catch: (error) => toKafkaError(error, "KafkaJsTestCluster.createTopic")
        }).pipe(Effect.asVoid, Effect.withSpan("KafkaJsTestCluster.createTopic", { attributes: { topic, partitions } }))

      const produce = (records: ReadonlyArray<ProducerRecord>) =>
        Effect.asVoid(producer.send(records)).pipe(
          Effect.withSpan("KafkaJsTestCluster.produce", { attributes: { records: records.length } })
        )

      const committed = (groupId: string, topic: string) =>
        Effect.tryPromise({
          try: () => admin.fetchOffsets({ groupId, topics: [topic] }),
          catch: (error) => toKafkaError(error, "KafkaJsTestCluster.committed")
        }).pipe(
          Effect.map((responses) => {
            const out = new Map<number, number>()
            for (const response of responses) {
              if (response.topic !== topic) continue
              for (const { offset, partition } of response.partitions) {
                // -1: the group has no offset for this partition.
                if (Number(offset) >= 0) out.set(partition, Number(offset))
              }
            }
            return out as ReadonlyMap<number, number>
          }),
          Effect.withSpan("KafkaJsTestCluster.committed", { attributes: { groupId, topic } })
        )

      const endOffsets = (topic: string) =>
        Effect.tryPromise({
          try: () => admin.fetchTopicOffsets(topic),
          catch: (error) => toKafkaError(error, "KafkaJsTestCluster.endOffsets")
        }).pipe(
          // `high` is the high watermark: the offset the next record will get (with acks
          // "all", every acknowledged record is below it).
          Effect.map(
            (partitions) =>
              new Map(partitions.map(({ high, partition }) => [partition, Number(high)])) as ReadonlyMap<number, number>
          ),
          Effect.withSpan("KafkaJsTestCluster.endOffsets", { attributes: { topic } })
        )

      // A throwaway group reads the topic from the beginning until every partition's high
      // watermark (as it was when the read started) was reached.
      const readAll = (topic: string) =>
        Effect.gen(function* () {
          const bounds = yield* Effect.tryPromise({
            try: () => admin.fetchTopicOffsets(topic),
            catch: (error) => toKafkaError(error, "KafkaJsTestCluster.readAll")
          })
          const expected = bounds.reduce((sum, b) => sum + (Number(b.high) - Number(b.low)), 0)
          if (expected === 0) return [] as ReadonlyArray<RawRecord>
          const records: Array<RawRecord> = []
          const consumer = kafka.consumer({ groupId: `sluice-read-${topic}-${Date.now()}-${Math.random()}` })
          yield* Effect.acquireRelease(
            Effect.tryPromise({
              try: async () => {
                await consumer.connect()
                await consumer.subscribe({ topics: [topic], fromBeginning: true })
              },
              catch: (error) => toKafkaError(error, "KafkaJsTestCluster.readAll")
            }),
            () => Effect.tryPromise(() => consumer.disconnect()).pipe(Effect.ignore)
          )
          yield* Effect.async<void, KafkaError.KafkaError>((resume) => {
            consumer
              .run({
                eachMessage: async ({ message, partition }) => {
                  records.push(toRawRecord(topic, partition, message))
                  if (records.length >= expected) resume(Effect.void)
                }
              })
              .catch((error) => resume(Effect.fail(toKafkaError(error, "KafkaJsTestCluster.readAll"))))
          })
          return records.sort((a, b) => a.partition - b.partition || a.offset - b.offset) as ReadonlyArray<RawRecord>
        }).pipe(Effect.scoped, Effect.withSpan("KafkaJsTestCluster.readAll", { attributes: { topic } }))

      return { name: "kafkajs", createTopic, produce, committed, endOffsets, readAll }
    })
  )
