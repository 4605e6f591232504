/**
 * O2 metrics (the testkit's `MetricsConformance` suite) on a real broker through librdkafka:
 * the lag gauges come from the high watermark librdkafka caches from its fetch responses.
 */
import { describe } from "@effect/vitest"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import * as MetricsConformance from "@sluice/testkit/MetricsConformance"
import * as Layer from "effect/Layer"
import * as Confluent from "../src/Confluent.js"
import * as ConfluentTestCluster from "./ConfluentTestCluster.js"

const broker = await brokerForTests()

const quick = { commitInterval: "100 millis", sessionTimeout: "6 seconds", heartbeatInterval: "500 millis" } as const

describe.skipIf(broker === undefined)("on the real broker (librdkafka)", () => {
  const brokers = broker?.brokers ?? []
  MetricsConformance.suite({
    name: "librdkafka",
    services: (groupId, settings = {}) =>
      Layer.merge(
        Confluent.layer({ brokers, groupId, logLevel: "error", ...quick, ...settings }),
        ConfluentTestCluster.layer(brokers)
      )
  })
})
