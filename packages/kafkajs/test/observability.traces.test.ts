/**
 * O1 traces (the testkit's `TracesConformance` suite) on the simulated cluster and on the real
 * broker through kafkajs.
 */
import { describe } from "@effect/vitest"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import * as TracesConformance from "@sluice/testkit/TracesConformance"
import { realBroker, simulated } from "./observability.support.js"

const broker = await brokerForTests()

TracesConformance.suite(simulated)
describe.skipIf(broker === undefined)("on the real broker", () => {
  TracesConformance.suite(realBroker(broker!))
})
