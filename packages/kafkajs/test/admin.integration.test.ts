/**
 * The testkit's admin conformance suites against this driver on a real Apache Kafka broker
 * (what every driver answers, and what only a broker can say), and a cluster that cannot be
 * reached.
 */
import { expect, it } from "@effect/vitest"
import { brokerSuite, suite } from "@sluice/testkit/AdminConformance"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { describe } from "vitest"
import { primitives } from "../src/internal/admin.js"
import { makeKafka } from "../src/internal/client.js"
import * as KafkaJsAdmin from "../src/KafkaJsAdmin.js"
import * as KafkaJsConfig from "../src/KafkaJsConfig.js"
import * as KafkaJsDriver from "../src/KafkaJsDriver.js"
import * as KafkaJsTestCluster from "./KafkaJsTestCluster.js"

const broker = await brokerForTests()

describe.skipIf(broker === undefined)("kafkajs admin on a real broker", () => {
  const brokers = broker!.brokers
  const layer = Layer.mergeAll(
    KafkaJsAdmin.layer({ brokers, logLevel: "error" }),
    KafkaJsDriver.layer({ brokers, logLevel: "error" }),
    KafkaJsTestCluster.layer(brokers)
  )

  suite("kafkajs", layer, { sessionTimeout: "6 seconds", heartbeatInterval: "500 millis" })

  brokerSuite("kafkajs", layer, (groupId, offsets) =>
    Effect.gen(function* () {
      const resolved = yield* KafkaJsConfig.validate({ brokers, logLevel: "nothing" }).pipe(Effect.orDie)
      const kafka = makeKafka(resolved, "sluice-test-admin", yield* Effect.runtime<never>())
      const client = kafka.admin()
      yield* Effect.acquireRelease(
        Effect.tryPromise(() => client.connect()).pipe(Effect.orDie),
        // A failed disconnect after the test must not hide the test's own outcome.
        () => Effect.tryPromise(() => client.disconnect()).pipe(Effect.ignore)
      )
      return yield* primitives(kafka, client, resolved).commitOffsets(groupId, offsets)
    })
  )

  it.live(
    "an unreachable cluster fails the layer with reason Connection",
    () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(
          Effect.scoped(
            KafkaJsAdmin.make({
              brokers: ["127.0.0.1:1"],
              retries: 0,
              connectionTimeout: "500 millis",
              logLevel: "nothing"
            })
          )
        )
        expect(error).toMatchObject({ _tag: "AdminError", reason: "Connection" })
      }),
    60_000
  )
})
