/**
 * O1 traces (the testkit's `TracesConformance` suite) on a real broker through librdkafka.
 */
import { describe } from "@effect/vitest"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import * as TracesConformance from "@sluice/testkit/TracesConformance"
import { librdkafka } from "./observability.support.js"

const broker = await brokerForTests()

describe.skipIf(broker === undefined)("on the real broker (librdkafka)", () => {
  TracesConformance.suite(librdkafka(broker?.brokers ?? []))
})
