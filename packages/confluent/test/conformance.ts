/**
 * The testkit's conformance suite (G1–G9) against this driver on a real Apache Kafka broker,
 * with one group protocol: each protocol's test file calls `conformance` once, so a report
 * names the driver and the protocol of every run (e.g. `conformance: confluent kip848`).
 */
import { suite } from "@sluice/testkit/Conformance"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import * as Layer from "effect/Layer"
import { describe } from "vitest"
import * as ConfluentDriver from "../src/ConfluentDriver.js"
import * as ConfluentProducer from "../src/ConfluentProducer.js"
import * as ConfluentTestCluster from "./ConfluentTestCluster.js"

// Resolved while the file is collected: a broker test is either run, skipped with one line
// (locally), or the file fails (CI=true).
const broker = await brokerForTests()

export const conformance = (protocol: string, options: ConfluentDriver.ConsumerOptions): void => {
  describe.skipIf(broker === undefined)(`confluent (${protocol}) on a real broker`, () => {
    const brokers = broker!.brokers
    suite(
      `confluent ${protocol}`,
      Layer.mergeAll(
        ConfluentDriver.layer({ brokers, logLevel: "error" }, options),
        ConfluentProducer.layer({ brokers, logLevel: "error" }),
        ConfluentTestCluster.layer(brokers)
      ),
      { sessionTimeout: "6 seconds", heartbeatInterval: "500 millis" }
    )
  })
}
