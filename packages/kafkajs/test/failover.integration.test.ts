/**
 * The testkit's failover suite (F1–F5) against this driver on a real cluster of three Apache
 * Kafka brokers, which the suite starts (`KafkaCluster`, ports 19092–19097) and stops.
 */

import { suite } from "@sluice/testkit/Failover"
import * as Layer from "effect/Layer"
import * as KafkaJsDriver from "../src/KafkaJsDriver.js"
import * as KafkaJsProducer from "../src/KafkaJsProducer.js"
import * as KafkaJsTestCluster from "./KafkaJsTestCluster.js"

// Without Java the suite skips itself with one line (fails under CI=true).
suite("kafkajs", (brokers) =>
  Layer.mergeAll(
    KafkaJsDriver.layer({ brokers, logLevel: "warn" }),
    KafkaJsProducer.layer({ brokers, logLevel: "warn" }),
    KafkaJsTestCluster.layer(brokers)
  ))
