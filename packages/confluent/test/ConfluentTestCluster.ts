/**
 * The testkit's `TestCluster` on a real broker through `@confluentinc/kafka-javascript`:
 * topics, records and committed offsets for the conformance suite when it runs against this
 * driver. Records are produced with the driver's own producer and read back with the
 * driver's own conversions.
 */
import { RdKafka } from "@confluentinc/kafka-javascript"
import type { RawRecord } from "@sluice/core/ConsumerRecord"
import type * as KafkaError from "@sluice/core/KafkaError"
import type { ProducerRecord } from "@sluice/core/ProducerDriver"
import type { SettingsError } from "@sluice/core/SettingsError"
import { TestCluster } from "@sluice/testkit/TestCluster"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { codeOf, toKafkaError } from "../src/ConfluentError.js"
import * as ConfluentProducer from "../src/ConfluentProducer.js"
import { makeConsumer, type NativeMessage } from "../src/internal/native.js"
import { toRawRecord } from "../src/internal/records.js"

const clientId = "sluice-testkit"
const timeout = 10_000
const topicAlreadyExists = 36

/** Runs a call of the client that ends in a Node-style callback. */
const callback = <A>(operation: string, run: (cb: (error: unknown, value: A) => void) => void) =>
  Effect.async<A, KafkaError.KafkaError>((resume) => {
    try {
      run((error, value) =>
        resume(error ? Effect.fail(toKafkaError(error, `ConfluentTestCluster.${operation}`)) : Effect.succeed(value))
      )
    } catch (error) {
      resume(Effect.fail(toKafkaError(error, `ConfluentTestCluster.${operation}`)))
    }
  })

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
      const connection = { "bootstrap.servers": brokers.join(","), "client.id": clientId, log_level: 3 }
      const admin = yield* Effect.acquireRelease(
        Effect.try({
          try: () => RdKafka.AdminClient.create(connection),
          catch: (error) => toKafkaError(error, "ConfluentTestCluster.connect")
        }),
        (client) => Effect.sync(() => client.disconnect())
      )
      const producer = yield* ConfluentProducer.make({ brokers, clientId, logLevel: "error" })

      const partitionsOf = (topic: string) =>
        callback<Array<{ partitions: Array<{ partition: number; leader: unknown }> }>>("describe", (cb) =>
          admin.describeTopics([topic], { timeout }, cb as never)
        ).pipe(Effect.map((topics) => topics[0]?.partitions ?? []))

      const endOffsets = (topic: string) =>
        Effect.gen(function* () {
          const partitions = yield* partitionsOf(topic)
          const offsets = yield* callback<Array<{ partition: number; offset: number }>>("endOffsets", (cb) =>
            admin.listOffsets(
              partitions.map(({ partition }) => ({ topic, partition, offset: RdKafka.OffsetSpec.LATEST })),
              { timeout },
              cb as never
            )
          )
          return new Map(offsets.map(({ offset, partition }) => [partition, offset])) as ReadonlyMap<number, number>
        }).pipe(Effect.withSpan("ConfluentTestCluster.endOffsets", { attributes: { topic } }))

      const createTopic = (topic: string, partitions: number) =>
        callback<void>("createTopic", (cb) =>
          admin.createTopic({ topic, num_partitions: partitions, replication_factor: -1 }, timeout, cb as never)
        ).pipe(
          Effect.catchIf(
            (error) => codeOf(error.cause) === topicAlreadyExists,
            () => Effect.void
          ),
          // Until every partition has a leader that answers, the topic cannot be used.
          Effect.zipRight(
            endOffsets(topic).pipe(
              Effect.filterOrFail(
                (offsets) => offsets.size === partitions,
                () => toKafkaError(new Error(`${topic} has no leaders yet`), "ConfluentTestCluster.createTopic")
              ),
              Effect.retry(Schedule.intersect(Schedule.spaced("100 millis"), Schedule.recurs(100)))
            )
          ),
          Effect.asVoid,
          Effect.withSpan("ConfluentTestCluster.createTopic", { attributes: { topic, partitions } })
        )

      const produce = (records: ReadonlyArray<ProducerRecord>) =>
        Effect.asVoid(producer.send(records)).pipe(
          Effect.withSpan("ConfluentTestCluster.produce", { attributes: { records: records.length } })
        )

      const committed = (groupId: string, topic: string) =>
        callback<Array<{ partitions: Array<{ topic: string; partition: number; offset: number }> }>>(
          "committed",
          (cb) => admin.listConsumerGroupOffsets([{ groupId }], { timeout }, cb as never)
        ).pipe(
          Effect.map((groups) => {
            const out = new Map<number, number>()
            for (const group of groups) {
              for (const { offset, partition, topic: t } of group.partitions) {
                // Without a committed offset the group's entry has offset -1.
                if (t === topic && offset >= 0) out.set(partition, offset)
              }
            }
            return out as ReadonlyMap<number, number>
          }),
          Effect.withSpan("ConfluentTestCluster.committed", { attributes: { groupId, topic } })
        )

      // A consumer without a group membership (assigned, never subscribed) reads every
      // partition from its start up to the end offset it had when the read started.
      const readAll = (topic: string) =>
        Effect.gen(function* () {
          const ends = yield* endOffsets(topic)
          const wanted = [...ends].filter(([, end]) => end > 0)
          if (wanted.length === 0) return [] as ReadonlyArray<RawRecord>
          const consumer = yield* Effect.acquireRelease(
            Effect.try({
              try: () =>
                makeConsumer(
                  { ...connection, "group.id": `sluice-read-${topic}`, "enable.auto.commit": false },
                  { "auto.offset.reset": "earliest" }
                ),
              catch: (error) => toKafkaError(error, "ConfluentTestCluster.readAll")
            }),
            (client) => Effect.async<void>((resume) => client.disconnect(() => resume(Effect.void)))
          )
          yield* callback<unknown>("readAll", (cb) => consumer.connect({ timeout }, cb))
          consumer.assign(wanted.map(([partition]) => ({ topic, partition, offset: 0 })))
          consumer.setDefaultConsumeTimeout(100)
          const records: Array<RawRecord> = []
          const left = new Map(wanted)
          while (left.size > 0) {
            const batch = yield* callback<ReadonlyArray<NativeMessage>>("readAll", (cb) => consumer.consume(1000, cb))
            for (const message of batch) {
              const end = left.get(message.partition)
              if (end === undefined || message.offset >= end) continue
              records.push(toRawRecord(message))
              if (message.offset + 1 >= end) left.delete(message.partition)
            }
          }
          return records.sort((a, b) => a.partition - b.partition || a.offset - b.offset) as ReadonlyArray<RawRecord>
        }).pipe(
          Effect.scoped,
          Effect.timeoutFail({
            duration: Duration.seconds(30),
            onTimeout: () => toKafkaError(new Error(`reading ${topic} timed out`), "ConfluentTestCluster.readAll")
          }),
          Effect.withSpan("ConfluentTestCluster.readAll", { attributes: { topic } })
        )

      return { name: "confluent", createTopic, produce, committed, endOffsets, readAll }
    })
  )
