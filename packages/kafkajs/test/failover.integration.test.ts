/**
 * The testkit's failover suite (F1–F5) against this driver on a real cluster of three Apache
 * Kafka brokers, which the suite starts (`KafkaCluster`, ports 19092–19097) and stops.
 */

import { suite } from "@sluice/testkit/Failover"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import * as Layer from "effect/Layer"
import { describe } from "vitest"
import * as KafkaJsDriver from "../src/KafkaJsDriver.js"
import * as KafkaJsProducer from "../src/KafkaJsProducer.js"
import * as KafkaJsTestCluster from "./KafkaJsTestCluster.js"

// The cluster comes from the same launcher as the one broker: where that one cannot be had
// (no Java, locally) the suite is skipped with the broker tests' one line; under CI it runs.
const broker = await brokerForTests()

describe.skipIf(broker === undefined)("kafkajs on a three-broker cluster", () => {
  suite("kafkajs", (brokers) =>
    Layer.mergeAll(
      KafkaJsDriver.layer({ brokers, logLevel: "warn" }),
      KafkaJsProducer.layer({ brokers, logLevel: "warn" }),
      KafkaJsTestCluster.layer(brokers)
    ))
})
