/**
 * The testkit's `TestCluster` on a real broker through `@confluentinc/kafka-javascript`: the
 * testkit's shell over this driver's own `Admin` and `ProducerDriver` (`TestCluster.fromServices`),
 * and a `readAll` that reads with the driver's own conversions.
 */

import type { AdminError } from "@sluice/core/Admin"
import type { RawRecord } from "@sluice/core/ConsumerRecord"
import type * as KafkaError from "@sluice/core/KafkaError"
import type { SettingsError } from "@sluice/core/SettingsError"
import { fromServices, TestCluster } from "@sluice/testkit/TestCluster"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ConfluentAdmin from "../src/ConfluentAdmin.js"
import { toKafkaError } from "../src/ConfluentError.js"
import * as ConfluentProducer from "../src/ConfluentProducer.js"
import { makeConsumer, type NativeMessage } from "../src/internal/native.js"
import { toRawRecord } from "../src/internal/records.js"

const clientId = "sluice-testkit"
const timeout = 10_000

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
 * A consumer without a group membership (assigned, never subscribed) reads every partition
 * from its start up to the end offset it had when the read started.
 */
const readAll = (brokers: ReadonlyArray<string>, ends: ReadonlyMap<number, number>, topic: string) =>
  Effect.gen(function* () {
    const wanted = [...ends].filter(([, end]) => end > 0)
    if (wanted.length === 0) return [] as ReadonlyArray<RawRecord>
    const consumer = yield* Effect.acquireRelease(
      Effect.try({
        try: () =>
          makeConsumer(
            {
              "bootstrap.servers": brokers.join(","),
              "client.id": clientId,
              log_level: 3,
              "group.id": `sluice-read-${topic}`,
              "enable.auto.commit": false
            },
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
      const cluster: TestCluster["Type"] = yield* fromServices({
        name: "confluent",
        readAll: (topic): Effect.Effect<ReadonlyArray<RawRecord>, KafkaError.KafkaError> =>
          Effect.flatMap(cluster.endOffsets(topic), (ends) => readAll(brokers, ends, topic))
      })
      return cluster
    })
  ).pipe(
    Layer.provide(
      Layer.merge(
        ConfluentAdmin.layer({ brokers, clientId, logLevel: "error" }),
        ConfluentProducer.layer({ brokers, clientId, logLevel: "error" })
      )
    )
  )
