/**
 * The conformance suite (G1–G8) against kafkajs on a real Apache Kafka broker.
 */
import * as KafkaJsDriver from "@sluice/kafkajs/KafkaJsDriver"
import * as KafkaJsProducer from "@sluice/kafkajs/KafkaJsProducer"
import * as Layer from "effect/Layer"
import { describe } from "vitest"
import { suite } from "../src/Conformance.js"
import { brokerForTests } from "../src/KafkaBroker.js"
import * as KafkaJsTestCluster from "../src/KafkaJsTestCluster.js"

const broker = await brokerForTests()

describe.skipIf(broker === undefined)("kafkajs on a real broker", () => {
  const brokers = broker!.brokers
  suite(
    "kafkajs",
    Layer.mergeAll(
      KafkaJsDriver.layer({ brokers, logLevel: "error" }),
      KafkaJsProducer.layer({ brokers, logLevel: "error" }),
      KafkaJsTestCluster.layer(brokers)
    ),
    { sessionTimeout: "6 seconds", heartbeatInterval: "500 millis" }
  )
})
