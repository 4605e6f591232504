/**
 * The cluster the observability suites (O1 traces, O2 metrics) run on through librdkafka: a
 * consumer and producer on the real broker, with quick timings, and its `TestCluster`.
 */
import type { Cluster } from "@sluice/testkit/MetricsConformance"
import * as Layer from "effect/Layer"
import * as Confluent from "../src/Confluent.js"
import * as ConfluentTestCluster from "./ConfluentTestCluster.js"

const quick = { commitInterval: "100 millis", sessionTimeout: "6 seconds", heartbeatInterval: "500 millis" } as const

export const librdkafka = (brokers: ReadonlyArray<string>): Cluster => ({
  name: "librdkafka",
  services: (groupId, settings = {}) =>
    Layer.merge(
      Confluent.layer({ brokers, groupId, logLevel: "error", ...quick, ...settings }),
      ConfluentTestCluster.layer(brokers)
    )
})
