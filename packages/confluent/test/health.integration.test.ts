/**
 * O4 on a real broker through librdkafka (classic protocol, cooperative-sticky): the member is
 * joining, then stable with its partitions, librdkafka's polls and the commits; a second
 * member takes one partition away incrementally and the first is stable again with the other
 * (the end of the rebalance reaches it as an empty `onAssigned`); a member that shut down is
 * stopped. librdkafka does not say when it heartbeats, nor the member id.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Consumer from "@sluice/core/Consumer"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import type * as Health from "@sluice/core/Health"
import * as TP from "@sluice/core/TopicPartition"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { TestCluster } from "@sluice/testkit/TestCluster"
import { committedWhen, healthWhen, uniqueName } from "@sluice/testkit/TestHelpers"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as ConfluentDriver from "../src/ConfluentDriver.js"
import * as ConfluentTestCluster from "./ConfluentTestCluster.js"

const broker = await brokerForTests()

const only = (health: Health.Health): Health.MemberHealth => {
  expect(health.members).toHaveLength(1)
  return health.members[0]!
}

describe.skipIf(broker === undefined)("health on a real broker (librdkafka)", () => {
  const brokers = broker?.brokers ?? []
  const layer = Layer.merge(ConfluentDriver.layer({ brokers, logLevel: "error" }), ConfluentTestCluster.layer(brokers))

  it.live(
    "O4 health on librdkafka: joining, stable with polls and commits, an incremental rebalance, stopped",
    () =>
      Effect.gen(function* () {
        const cluster = yield* TestCluster
        const topic = uniqueName("sluice-health-rd")
        const groupId = uniqueName("sluice-health-rd-group")
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
          shutdownTimeout: "5 seconds"
        })
        const a = yield* Consumer.make(settings)
        const b = yield* Consumer.make(settings)
        const aFiber = yield* Effect.forkDaemon(a.run({ topics: [topic], handler: () => Effect.void }))
        const joining = yield* healthWhen(a, "a joining", (h) => h.members.length === 1)
        expect(only(joining)).toMatchObject({ state: "joining", assigned: [], ready: false, live: true })

        const both = (h: Health.Health) => h.ready && h.members[0]!.assigned.length === 2
        // The poll that brought the assignment returns just after it.
        const stable = only(
          yield* healthWhen(
            a,
            "a stable with both partitions, polling",
            (h) => both(h) && h.members[0]!.sinceFetchMillis !== undefined
          )
        )
        expect(stable).toMatchObject({ state: "stable", live: true, problems: [], memberId: undefined })
        expect(stable.assigned).toEqual([TP.make(topic, 0), TP.make(topic, 1)])
        expect(stable.sinceFetchMillis).toBeLessThan(10_000)
        expect(stable.sinceHeartbeatMillis).toBeUndefined()
        yield* committedWhen(groupId, topic, (c) => c.get(0) === 5 && c.get(1) === 5)
        const committed = only(
          yield* healthWhen(a, "a commit seen", (h) => h.members[0]!.sinceCommitMillis !== undefined)
        )
        expect(committed.commitFailures).toBe(0)

        const bFiber = yield* Effect.forkDaemon(b.run({ topics: [topic], handler: () => Effect.void }))
        const one = (h: Health.Health) => h.ready && h.members[0]!.assigned.length === 1
        const aOne = only(yield* healthWhen(a, "a stable with one partition", one))
        const bOne = only(yield* healthWhen(b, "b stable with one partition", one))
        expect([...aOne.assigned, ...bOne.assigned].sort(TP.order)).toEqual([TP.make(topic, 0), TP.make(topic, 1)])

        yield* Fiber.interrupt(bFiber)
        expect(only(yield* b.health())).toMatchObject({ state: "stopped", ready: false, live: false })
        yield* healthWhen(a, "a stable with both partitions again", both)
        yield* Fiber.interrupt(aFiber)
        expect(only(yield* a.health())).toMatchObject({ state: "stopped", ready: false, live: false })
      }).pipe(Effect.provide(layer)),
    120_000
  )
})
