/**
 * The testkit's failover suite (F1–F5) against this driver on a real cluster of three Apache
 * Kafka brokers, which the suite starts (`KafkaCluster`, ports 19092–19097) and stops. A test
 * file of its own (the failover helper's), beside the driver's own tests.
 */
import { suite } from "@sluice/testkit/Failover"
import * as Layer from "effect/Layer"
import * as ConfluentDriver from "../src/ConfluentDriver.js"
import * as ConfluentProducer from "../src/ConfluentProducer.js"
import * as ConfluentTestCluster from "./ConfluentTestCluster.js"

// Without Java the suite skips itself with one line (fails under CI=true). The rejoin watchdog
// (15 s here, 76 s by default with the suite's 6 s session) replaces a member's client that stays
// out of its group after F5's restart of the whole cluster while the brokers answer.
suite("confluent", (brokers) =>
  Layer.mergeAll(
    ConfluentDriver.layer({ brokers, logLevel: "warn" }, { rejoinTimeout: "15 seconds" }),
    ConfluentProducer.layer({ brokers, logLevel: "warn" }),
    ConfluentTestCluster.layer(brokers)
  ))
