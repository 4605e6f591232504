/**
 * The testkit's admin conformance suites against the librdkafka admin on a real Apache Kafka
 * broker: what every driver answers, and what only a broker can say.
 */
import { RdKafka } from "@confluentinc/kafka-javascript"
import { brokerSuite, suite } from "@sluice/testkit/AdminConformance"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { describe } from "vitest"
import * as ConfluentAdmin from "../src/ConfluentAdmin.js"
import * as ConfluentConfig from "../src/ConfluentConfig.js"
import * as ConfluentDriver from "../src/ConfluentDriver.js"
import { primitives } from "../src/internal/admin.js"
import * as Properties from "../src/internal/properties.js"
import * as ConfluentTestCluster from "./ConfluentTestCluster.js"

const broker = await brokerForTests()

describe.skipIf(broker === undefined)("confluent admin on a real broker", () => {
  const brokers = broker!.brokers
  const layer = Layer.mergeAll(
    ConfluentAdmin.layer({ brokers, logLevel: "error" }),
    ConfluentDriver.layer({ brokers, logLevel: "error" }),
    ConfluentTestCluster.layer(brokers)
  )

  suite("confluent", layer, { sessionTimeout: "6 seconds", heartbeatInterval: "500 millis" })

  brokerSuite("confluent", layer, (groupId, offsets) =>
    Effect.gen(function* () {
      const resolved = ConfluentConfig.resolve({ brokers, logLevel: "nothing" })
      const client = yield* Effect.acquireRelease(
        Effect.sync(() => RdKafka.AdminClient.create(Properties.admin(resolved) as never)),
        (client) => Effect.sync(() => client.disconnect())
      )
      return yield* primitives(client, resolved).commitOffsets(groupId, offsets)
    })
  )
})
