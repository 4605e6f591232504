/**
 * O4 on a real broker through kafkajs: `Consumer.health()` reports the member joining, then
 * stable with its partitions, kafkajs's fetches and heartbeats, the commits; a second member's
 * arrival rebalances (a drained revocation keeps the first `rebalancing`); a member that shut
 * down is stopped.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Consumer from "@sluice/core/Consumer"
import type { ConsumerDriver } from "@sluice/core/ConsumerDriver"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import type * as Health from "@sluice/core/Health"
import type * as Producer from "@sluice/core/Producer"
import * as TP from "@sluice/core/TopicPartition"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { TestCluster } from "@sluice/testkit/TestCluster"
import { committedWhen, healthWhen, uniqueName } from "@sluice/testkit/TestHelpers"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as KafkaJs from "../src/KafkaJs.js"
import * as KafkaJsTestCluster from "./KafkaJsTestCluster.js"

const broker = await brokerForTests()

const only = (health: Health.Health): Health.MemberHealth => {
  expect(health.members).toHaveLength(1)
  return health.members[0]!
}

describe.skipIf(broker === undefined)("health on a real broker (kafkajs)", () => {
  const brokers = broker?.brokers ?? []

  const test = <A, E>(body: Effect.Effect<A, E, Producer.Producer | TestCluster | ConsumerDriver>) =>
    body.pipe(
      Effect.provide(
        Layer.merge(
          KafkaJs.layer({ brokers, groupId: uniqueName("sluice-unused-group"), logLevel: "error" }),
          KafkaJsTestCluster.layer(brokers)
        )
      )
    )

  it.live(
    "O4 health on kafkajs: joining, stable with fetches, heartbeats and commits, rebalancing while a revocation drains, stopped",
    () =>
      test(
        Effect.gen(function* () {
          const cluster = yield* TestCluster
          const topic = uniqueName("sluice-health")
          const groupId = uniqueName("sluice-health-group")
          yield* cluster.createTopic(topic, 2)
          yield* cluster.produce(
            Array.from({ length: 10 }, (_, i) => ({
              topic,
              partition: i % 2,
              key: null,
              value: new TextEncoder().encode(String(i)),
              headers: []
            }))
          )
          const settings = yield* ConsumerSettings.make({
            groupId,
            commitInterval: "100 millis",
            sessionTimeout: "6 seconds",
            heartbeatInterval: "500 millis",
            revocation: ConsumerSettings.drain("3 seconds"),
            shutdownTimeout: "5 seconds"
          })
          const a = yield* Consumer.make(settings)
          const b = yield* Consumer.make(settings)
          const hold = yield* Effect.makeLatch(true)
          const aFiber = yield* Effect.forkDaemon(
            a.run({ topics: [topic], handler: (r) => (r.offset >= 5 ? hold.await : Effect.void) })
          )
          // Connecting and joining take kafkajs far longer than the 50 ms between two looks.
          const joining = yield* healthWhen(a, "a joining", (h) => h.members.length === 1)
          expect(only(joining)).toMatchObject({ state: "joining", assigned: [], ready: false, live: true })

          const stable = only(
            yield* healthWhen(
              a,
              "a stable with both partitions, fetching, heartbeating and committed",
              (h) =>
                h.ready &&
                h.members[0]!.assigned.length === 2 &&
                h.members[0]!.sinceHeartbeatMillis !== undefined &&
                h.members[0]!.sinceCommitMillis !== undefined
            )
          )
          expect(stable).toMatchObject({ state: "stable", live: true, problems: [], commitFailures: 0, stalled: [] })
          expect(stable.assigned).toEqual([TP.make(topic, 0), TP.make(topic, 1)])
          expect(stable.memberId).toMatch(/^sluice-/)
          expect(stable.sinceFetchMillis).toBeLessThan(10_000)
          expect(stable.sinceHeartbeatMillis).toBeLessThan(6_000)
          const committed = yield* committedWhen(groupId, topic, (c) => c.get(0) === 5 && c.get(1) === 5)
          expect([...committed].sort()).toEqual([
            [0, 5],
            [1, 5]
          ])

          // A record held in a's handler; b joins: a's drained revocation keeps it rebalancing.
          yield* hold.close
          yield* cluster.produce([
            { topic, partition: 0, key: null, value: new TextEncoder().encode("10"), headers: [] }
          ])
          yield* Effect.sleep("500 millis")
          const bFiber = yield* Effect.forkDaemon(b.run({ topics: [topic], handler: () => Effect.void }))
          const rebalancing = yield* healthWhen(a, "a rebalancing", (h) => h.members[0]?.state === "rebalancing")
          expect(rebalancing.ready).toBe(false)
          expect(rebalancing.problems[0]).toMatch(new RegExp(`^${groupId}: not ready: rebalancing for`))
          yield* hold.open

          const one = (h: Health.Health) => h.ready && h.members[0]!.assigned.length === 1
          const aOne = only(yield* healthWhen(a, "a stable with one partition", one))
          const bOne = only(yield* healthWhen(b, "b stable with one partition", one))
          expect([...aOne.assigned, ...bOne.assigned].sort(TP.order)).toEqual([TP.make(topic, 0), TP.make(topic, 1)])

          yield* Fiber.interrupt(bFiber)
          expect(only(yield* b.health())).toMatchObject({ state: "stopped", ready: false, live: false })
          yield* healthWhen(
            a,
            "a stable with both partitions again",
            (h) => h.ready && h.members[0]!.assigned.length === 2
          )
          yield* Fiber.interrupt(aFiber)
          expect(only(yield* a.health())).toMatchObject({ state: "stopped", ready: false, live: false })
        })
      ),
    120_000
  )
})
