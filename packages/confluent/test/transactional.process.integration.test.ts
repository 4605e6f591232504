/**
 * G10 with real processes on a real broker (librdkafka, classic cooperative-sticky, a 3 s
 * session): the testkit's exactly-once process tests. SIGKILL at random points in 10 trials over
 * 10,000 records with a second member joining and leaving, and a zombie paused with SIGSTOP past
 * its session, then resumed: every input has exactly one output under `read_committed`.
 */
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { suite } from "@sluice/testkit/TransactionalProcess"
import { describe } from "vitest"
import * as ConfluentTestCluster from "./ConfluentTestCluster.js"
import { readCommitted } from "./readCommitted.js"

const broker = await brokerForTests()
const here = dirname(fileURLToPath(import.meta.url))
const brokers = broker?.brokers ?? []

describe.skipIf(broker === undefined)("confluent", () => {
  suite("confluent", {
    fixture: join(here, "fixtures", "transactionalProcess.ts"),
    cwd: join(here, "..", "..", ".."),
    brokers,
    cluster: ConfluentTestCluster.layer(brokers),
    readCommitted: (topic, partitions, expected) => readCommitted(brokers, topic, partitions, expected)
  })
})
