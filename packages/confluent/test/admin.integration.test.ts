/**
 * The testkit's admin conformance suite against the librdkafka admin on a real Apache Kafka
 * broker, and what only a broker can say: leaders and replicas.
 */
import { expect, it } from "@effect/vitest"
import * as Admin from "@sluice/core/Admin"
import { suite } from "@sluice/testkit/AdminConformance"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { uniqueName } from "@sluice/testkit/TestHelpers"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { describe } from "vitest"
import * as ConfluentAdmin from "../src/ConfluentAdmin.js"
import * as ConfluentDriver from "../src/ConfluentDriver.js"
import * as ConfluentTestCluster from "./ConfluentTestCluster.js"

const broker = await brokerForTests()

describe.skipIf(broker === undefined)("confluent admin on a real broker", () => {
  const brokers = broker!.brokers
  const AdminLive = ConfluentAdmin.layer({ brokers, logLevel: "error" })

  suite(
    "confluent",
    Layer.mergeAll(
      AdminLive,
      ConfluentDriver.layer({ brokers, logLevel: "error" }),
      ConfluentTestCluster.layer(brokers)
    ),
    { sessionTimeout: "6 seconds", heartbeatInterval: "500 millis" }
  )

  it.live(
    "a topic's partitions have a leader among their in-sync replicas; internal topics are not listed",
    () =>
      Effect.gen(function* () {
        const admin = yield* Admin.Admin
        const topic = uniqueName("confluent-admin-leaders")
        yield* admin.createTopics([{ name: topic, partitions: 2 }])
        const [described] = yield* admin.describeTopics([topic])
        expect(described?.partitions).toHaveLength(2)
        for (const p of described?.partitions ?? []) {
          expect(p.leader).toBeTypeOf("number")
          expect(p.isr).toContain(p.leader)
        }
        expect(yield* admin.listTopics).not.toContain("__consumer_offsets")
        const refused = yield* Effect.flip(
          admin.createTopics([{ name: uniqueName("x"), partitions: 1, replicationFactor: 9 }])
        )
        expect(refused.reason).toBe("InvalidArgument")
        yield* admin.deleteTopics([topic])
      }).pipe(Effect.provide(AdminLive)),
    60_000
  )
})
