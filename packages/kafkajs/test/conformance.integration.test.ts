/**
 * The testkit's conformance suite (G1–G9) against this driver on a real Apache Kafka broker.
 */
import { suite } from "@sluice/testkit/Conformance"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import * as Layer from "effect/Layer"
import { describe } from "vitest"
import * as KafkaJsDriver from "../src/KafkaJsDriver.js"
import * as KafkaJsProducer from "../src/KafkaJsProducer.js"
import * as KafkaJsTestCluster from "./KafkaJsTestCluster.js"

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
