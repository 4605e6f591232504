/**
 * The testkit's failover suite (F1–F5) against this driver on a real cluster of three Apache
 * Kafka brokers, which the suite starts (`KafkaCluster`, ports 19092–19097) and stops. A test
 * file of its own (the failover helper's), beside the driver's own tests.
 */
import { suite } from "@sluice/testkit/Failover"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import * as Layer from "effect/Layer"
import { describe } from "vitest"
import * as ConfluentDriver from "../src/ConfluentDriver.js"
import * as ConfluentProducer from "../src/ConfluentProducer.js"
import * as ConfluentTestCluster from "./ConfluentTestCluster.js"

// The cluster comes from the same launcher as the one broker: where that one cannot be had
// (no Java, locally) the suite is skipped with the broker tests' one line; under CI it runs.
const broker = await brokerForTests()

describe.skipIf(broker === undefined)("confluent on a three-broker cluster", () => {
  suite("confluent", (brokers) =>
    Layer.mergeAll(
      ConfluentDriver.layer({ brokers, logLevel: "warn" }),
      ConfluentProducer.layer({ brokers, logLevel: "warn" }),
      ConfluentTestCluster.layer(brokers)
    ))
})
