/**
 * Guarantees that need a real process, on the librdkafka driver (classic cooperative-sticky,
 * a 3 s session): the testkit's process tests. G3: consumer processes killed with SIGKILL at
 * random points, then a last one that runs to the end: every record was handled, the
 * duplicates counted. G8: SIGTERM mid-stream: exit 0 within the deadline, everything finished
 * committed. The G3 trials run in partition mode only here (each start loads librdkafka and
 * joins the group); the kafkajs package runs all three modes through the same suite.
 */
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { suite } from "@sluice/testkit/ProcessHarness"
import { describe } from "vitest"
import * as ConfluentTestCluster from "./ConfluentTestCluster.js"

const broker = await brokerForTests()
const here = dirname(fileURLToPath(import.meta.url))

describe.skipIf(broker === undefined)("confluent", () => {
  suite("confluent", {
    fixture: join(here, "fixtures", "consumerProcess.ts"),
    cwd: join(here, "..", "..", ".."),
    brokers: broker?.brokers ?? [],
    cluster: ConfluentTestCluster.layer(broker?.brokers ?? []),
    modes: ["partition"],
    trials: 4,
    records: 4000
  })
})
