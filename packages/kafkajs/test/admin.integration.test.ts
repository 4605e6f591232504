/**
 * The testkit's admin conformance suite against this driver on a real Apache Kafka broker,
 * and what only a broker can say: leaders and replicas, and the broker's own refusals.
 */
import { expect, it } from "@effect/vitest"
import * as Admin from "@sluice/core/Admin"
import { suite } from "@sluice/testkit/AdminConformance"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import {
  eventually,
  freshTopic,
  type Handled,
  ownedPartitions,
  startMember,
  uniqueName
} from "@sluice/testkit/TestHelpers"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
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
  const AdminLive = KafkaJsAdmin.layer({ brokers, logLevel: "error" })

  suite(
    "kafkajs",
    Layer.mergeAll(AdminLive, KafkaJsDriver.layer({ brokers, logLevel: "error" }), KafkaJsTestCluster.layer(brokers)),
    { sessionTimeout: "6 seconds", heartbeatInterval: "500 millis" }
  )

  it.live(
    "a topic's partitions have a leader among their in-sync replicas; internal topics are not listed",
    () =>
      Effect.gen(function* () {
        const admin = yield* Admin.Admin
        const topic = uniqueName("admin-leaders")
        yield* admin.createTopics([{ name: topic, partitions: 2 }])
        const [described] = yield* admin.describeTopics([topic])
        for (const p of described?.partitions ?? []) {
          expect(p.leader).toBeTypeOf("number")
          expect(p.isr).toContain(p.leader)
        }
        expect(yield* admin.listTopics).not.toContain("__consumer_offsets")
        yield* admin.deleteTopics([topic])
      }).pipe(Effect.provide(AdminLive)),
    60_000
  )

  it.live(
    "the broker's refusals: a replication factor above the brokers and an unknown config are InvalidArgument",
    () =>
      Effect.gen(function* () {
        const admin = yield* Admin.Admin
        const topic = uniqueName("admin-refused")
        const tooMany = yield* Effect.flip(admin.createTopics([{ name: topic, partitions: 1, replicationFactor: 100 }]))
        expect(tooMany).toMatchObject({ reason: "InvalidArgument" })
        expect(tooMany.message).toContain("INVALID_REPLICATION_FACTOR")
        const unknownConfig = yield* Effect.flip(
          admin.createTopics([{ name: topic, partitions: 1, configs: { "no.such.config": "1" } }])
        )
        expect(unknownConfig).toMatchObject({ reason: "InvalidArgument" })
        expect(yield* admin.listTopics).not.toContain(topic)
      }).pipe(Effect.provide(AdminLive)),
    60_000
  )

  it.live(
    "the broker itself refuses a commit from outside a live group: GroupNotEmpty, even past the service's check",
    () =>
      Effect.gen(function* () {
        const { groupId, topic } = yield* freshTopic("admin-race", 1, 2)
        const probe: Array<Handled> = []
        const member = yield* startMember({
          name: "a",
          groupId,
          topic,
          probe,
          settings: { sessionTimeout: "6 seconds" }
        })
        yield* eventually(() => ownedPartitions(member.events).size === 1, "the member to join")
        const resolved = yield* KafkaJsConfig.validate({ brokers, logLevel: "nothing" })
        const kafka = makeKafka(resolved, "sluice-test-admin", yield* Effect.runtime<never>())
        const client = kafka.admin()
        yield* Effect.acquireRelease(
          Effect.tryPromise(() => client.connect()),
          // A failed disconnect after the test must not hide the test's own outcome.
          () => Effect.tryPromise(() => client.disconnect()).pipe(Effect.ignore)
        )
        const error = yield* Effect.flip(
          primitives(kafka, client, resolved).commitOffsets(groupId, [{ topic, partition: 0, offset: 0 }])
        )
        expect(error).toMatchObject({ _tag: "AdminError", reason: "GroupNotEmpty" })
        yield* Fiber.interrupt(member.fiber)
      }).pipe(
        Effect.scoped,
        Effect.provide(
          Layer.merge(KafkaJsDriver.layer({ brokers, logLevel: "error" }), KafkaJsTestCluster.layer(brokers))
        )
      ),
    60_000
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
