/**
 * O2 metrics (the testkit's `MetricsConformance` suite) on the simulated cluster and on the
 * real broker through kafkajs. `packages/confluent/test/observability.metrics.integration.test.ts`
 * runs the same suite on librdkafka.
 */
import { describe } from "@effect/vitest"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import * as MetricsConformance from "@sluice/testkit/MetricsConformance"
import { realBroker, simulated } from "./observability.support.js"

const broker = await brokerForTests()

MetricsConformance.suite(simulated)
describe.skipIf(broker === undefined)("on the real broker", () => {
  MetricsConformance.suite(realBroker(broker!))
})
