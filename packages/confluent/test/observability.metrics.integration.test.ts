/**
 * O2 metrics (the testkit's `MetricsConformance` suite) on a real broker through librdkafka:
 * the lag gauges come from the high watermark librdkafka caches from its fetch responses.
 */
import { describe } from "@effect/vitest"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import * as MetricsConformance from "@sluice/testkit/MetricsConformance"
import { librdkafka } from "./observability.support.js"

const broker = await brokerForTests()

describe.skipIf(broker === undefined)("on the real broker (librdkafka)", () => {
  MetricsConformance.suite(librdkafka(broker?.brokers ?? []))
})
