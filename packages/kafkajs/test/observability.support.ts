/**
 * What the observability tests (O1–O3) share: the two clusters they run on (the simulated one
 * and the real broker through kafkajs) behind one `services` function.
 */
import type * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import type { TransactionalProducerDriver } from "@sluice/core/TransactionalProducerDriver"
import type { BrokerInfo } from "@sluice/testkit/KafkaBroker"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import type { Cluster, Services } from "@sluice/testkit/MetricsConformance"
import { TestCluster } from "@sluice/testkit/TestCluster"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Kafka, logLevel } from "kafkajs"
import * as KafkaJs from "../src/KafkaJs.js"
import * as KafkaJsTransactional from "../src/KafkaJsTransactional.js"
import * as KafkaJsTestCluster from "./KafkaJsTestCluster.js"

export type { Cluster, Services } from "@sluice/testkit/MetricsConformance"

const quick = { commitInterval: "100 millis", sessionTimeout: "6 seconds", heartbeatInterval: "500 millis" } as const

/** A cluster whose services also hold a `TransactionalProducerDriver`, for exactly-once pipelines. */
export interface TransactionalCluster extends Cluster {
  readonly withTransactions: (
    groupId: string,
    settings?: Partial<ConsumerSettings.Input>
  ) => Layer.Layer<Services | TransactionalProducerDriver, unknown>
  /**
   * The values of `topic` a read_committed reader sees, once `expected` arrived and a second
   * more (a duplicate would arrive then), or after 30 s.
   */
  readonly readCommitted: (
    topic: string,
    expected: number
  ) => Effect.Effect<ReadonlyArray<string>, unknown, TestCluster>
}

const decoder = new TextDecoder()

export const simulated: TransactionalCluster = {
  name: "simulated cluster",
  services: (groupId, settings = {}) => MemoryKafka.layerClient({ groupId, ...quick, ...settings }),
  withTransactions: (groupId, settings = {}) => MemoryKafka.layerClient({ groupId, ...quick, ...settings }),
  // The simulated cluster's `readAll` reads committed records only.
  readCommitted: (topic) =>
    Effect.flatMap(TestCluster, (cluster) =>
      Effect.map(cluster.readAll(topic), (records) => records.map((r) => decoder.decode(r.value!)))
    )
}

export const realBroker = (broker: BrokerInfo): TransactionalCluster => {
  const services = (groupId: string, settings: Partial<ConsumerSettings.Input> = {}) =>
    Layer.merge(
      KafkaJs.layer({ brokers: broker.brokers, groupId, logLevel: "error", ...quick, ...settings }),
      KafkaJsTestCluster.layer(broker.brokers)
    )
  return {
    name: "real broker",
    services,
    withTransactions: (groupId, settings) =>
      Layer.merge(
        services(groupId, settings),
        KafkaJsTransactional.layer({ brokers: broker.brokers, logLevel: "error" }, { transactionTimeout: "10 seconds" })
      ),
    // The testkit's `readAll` counts on the high watermark, which a transaction's markers
    // never let a reader reach: a read_committed reader that waits instead.
    readCommitted: (topic, expected) =>
      Effect.tryPromise(async () => {
        const kafka = new Kafka({
          clientId: "sluice-read-committed",
          brokers: [...broker.brokers],
          logLevel: logLevel.NOTHING
        })
        const consumer = kafka.consumer({ groupId: `${topic}-reader-${Date.now()}`, readUncommitted: false })
        const values: Array<string> = []
        await consumer.connect()
        try {
          await consumer.subscribe({ topic, fromBeginning: true })
          await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value!.toString()) })
          const deadline = Date.now() + 30_000
          while (values.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
          await new Promise((r) => setTimeout(r, 1000))
        } finally {
          await consumer.disconnect()
        }
        return values
      })
  }
}
