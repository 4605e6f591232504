/**
 * The testkit's `TestCluster` on a real broker through kafkajs: the testkit's shell over this
 * driver's own `Admin` and `ProducerDriver` (`TestCluster.fromServices`), and a `readAll` that
 * reads with a throwaway group through the driver's own conversions and log bridge.
 */

import { Admin, type AdminError } from "@sluice/core/Admin"
import type { RawRecord } from "@sluice/core/ConsumerRecord"
import type * as KafkaError from "@sluice/core/KafkaError"
import type { SettingsError } from "@sluice/core/SettingsError"
import { fromServices, TestCluster } from "@sluice/testkit/TestCluster"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Kafka, logLevel } from "kafkajs"
import { logCreator } from "../src/internal/log.js"
import { toRawRecord } from "../src/internal/records.js"
import * as KafkaJsAdmin from "../src/KafkaJsAdmin.js"
import { toKafkaError } from "../src/KafkaJsError.js"
import * as KafkaJsProducer from "../src/KafkaJsProducer.js"

const clientId = "sluice-testkit"

/**
 * A `TestCluster` on the brokers `brokers` (e.g. from the testkit's `KafkaBroker`). Its
 * admin and producer connect when the layer is built and disconnect with its scope.
 */
export const layer = (
  brokers: ReadonlyArray<string>
): Layer.Layer<TestCluster, KafkaError.KafkaError | SettingsError | AdminError> =>
  Layer.effect(
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
      const admin = yield* Admin

      // A throwaway group reads the topic from the beginning until every partition's end offset
      // (as it was when the read started) was reached. Each offset counts once: kafkajs restarts
      // a consumer that lost its coordinator and reads again from the beginning (no commits), and
      // a count of records would then end the read early, with records missing (failover F4 after
      // a broker restart, session 26). A read that does not get there within a minute returns
      // what it has, for the caller's checks to say what is missing.
      const readAll = (topic: string) =>
        Effect.gen(function* () {
          const [described] = yield* admin
            .describeTopics([topic])
            .pipe(Effect.mapError((error) => toKafkaError(error, "KafkaJsTestCluster.readAll")))
          const ends = new Map<number, number>()
          for (const p of described?.partitions ?? [])
            if (p.endOffset > p.startOffset) ends.set(p.partition, p.endOffset)
          if (ends.size === 0) return [] as ReadonlyArray<RawRecord>
          const read = new Map<string, RawRecord>()
          const next = new Map<number, number>()
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
                  const record = toRawRecord(topic, partition, message)
                  read.set(`${partition}:${record.offset}`, record)
                  next.set(partition, Math.max(next.get(partition) ?? 0, record.offset + 1))
                  if ([...ends].every(([p, end]) => (next.get(p) ?? 0) >= end)) resume(Effect.void)
                }
              })
              .catch((error) => resume(Effect.fail(toKafkaError(error, "KafkaJsTestCluster.readAll"))))
          }).pipe(Effect.timeoutTo({ duration: "60 seconds", onTimeout: () => undefined, onSuccess: () => undefined }))
          return [...read.values()].sort(
            (a, b) => a.partition - b.partition || a.offset - b.offset
          ) as ReadonlyArray<RawRecord>
        }).pipe(Effect.scoped, Effect.withSpan("KafkaJsTestCluster.readAll", { attributes: { topic } }))

      return yield* fromServices({ name: "kafkajs", readAll })
    })
  ).pipe(
    Layer.provide(
      Layer.merge(
        KafkaJsAdmin.layer({ brokers, clientId, logLevel: "warn" }),
        KafkaJsProducer.layer({ brokers, clientId, logLevel: "warn" })
      )
    )
  )
