/**
 * The rejoin watchdog on a real broker: a member that owns nothing and stays out of its group
 * longer than its `rejoinTimeout` gets a new librdkafka client, which joins and takes its share;
 * the replaced client's rebalance events never reach the engine.
 *
 * The wedge the watchdog is for (a member whose coordinator never comes back after a restart of
 * the whole cluster, docs/failover.md) cannot be brought about at will, so the test keeps a member
 * out of its group the ordinary way: on an eager protocol, a joining member waits in JoinGroup for
 * as long as the current owner holds its revocation (here 8 s), far longer than the joining
 * member's `rejoinTimeout` (1 s).
 */
import { describe, expect, it } from "@effect/vitest"
import type { GroupListener, Subscription } from "@sluice/core/ConsumerDriver"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { TestCluster } from "@sluice/testkit/TestCluster"
import { eventually, numberedRecords, uniqueName } from "@sluice/testkit/TestHelpers"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as Scope from "effect/Scope"
import * as ConfluentDriver from "../src/ConfluentDriver.js"
import * as ConfluentTestCluster from "./ConfluentTestCluster.js"
import { subscription } from "./support.js"

const broker = await brokerForTests()

/** A member at the driver's port: what it owns, the offsets it was handed, what it logged. */
const member = (
  options: ConfluentDriver.ConsumerOptions,
  subscription: Subscription,
  holdRevocation: Duration.DurationInput = 0
) =>
  Effect.gen(function* () {
    const owned = new Set<number>()
    const handed: Array<string> = []
    const outside: Array<string> = []
    const logs: Array<string> = []
    const listener: GroupListener = {
      onAssigned: (assignments) =>
        Effect.sync(() => {
          for (const a of assignments) owned.add(a.topicPartition.partition)
        }),
      onRevoked: (partitions) =>
        Effect.zipRight(
          Effect.sleep(holdRevocation),
          Effect.sync(() => {
            for (const tp of partitions) owned.delete(tp.partition)
          })
        ),
      onLost: (partitions) =>
        Effect.sync(() => {
          for (const tp of partitions) owned.delete(tp.partition)
        }),
      onRecords: (tp, records) =>
        Effect.sync(() => {
          // Records of a partition this member does not own would break the port's contract.
          if (!owned.has(tp.partition)) outside.push(`${tp.partition}`)
          for (const r of records) handed.push(`${tp.partition}:${r.offset}`)
        })
    }
    const logger = Logger.make(({ message }) => {
      logs.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
    })
    const scope = yield* Scope.make()
    const driver = yield* ConfluentDriver.make({ brokers: broker!.brokers, logLevel: "error" }, options)
    yield* Scope.extend(driver.subscribe(subscription, listener), scope).pipe(
      Effect.provide(Logger.replace(Logger.defaultLogger, logger))
    )
    return { owned, handed, outside, logs, close: Scope.close(scope, Exit.void) }
  })

const subscriptionOf = (groupId: string, topic: string, clientId: string, groupInstanceId?: string): Subscription =>
  subscription({ groupId, topics: [topic], clientId, groupInstanceId, rebalanceTimeout: Duration.seconds(30) })

describe.skipIf(broker === undefined)("confluent: the rejoin watchdog on a real broker", () => {
  const layer = ConfluentTestCluster.layer(broker?.brokers ?? [])

  for (const membership of ["dynamic", "static"] as const) {
    it.scopedLive(
      `F5 (${membership}) a member kept out of its group longer than its rejoinTimeout, owning nothing, gets a new client that joins and takes its share; the old client's events never reach the engine`,
      () =>
        Effect.gen(function* () {
          const cluster = yield* TestCluster
          const topic = uniqueName("watchdog")
          const groupId = uniqueName("watchdog-group")
          yield* cluster.createTopic(topic, 2)
          yield* cluster.produce(numberedRecords(topic, 2, 200))
          const eager: ConfluentDriver.ConsumerOptions = { assignor: "range" }
          const a = yield* member(eager, subscriptionOf(groupId, topic, "a"), "8 seconds")
          yield* eventually(
            () => a.owned.size === 2 && a.handed.length === 200,
            "a to own both partitions and read them"
          )
          // A static member's new client asks for the instance id its old one held.
          const b = yield* member(
            { ...eager, rejoinTimeout: "1 second" },
            subscriptionOf(groupId, topic, "b", membership === "static" ? uniqueName("b-instance") : undefined)
          )
          // b waits in JoinGroup while a holds its revocation: its watchdog replaces its client.
          yield* eventually(
            () => b.logs.some((line) => line.includes("its librdkafka client was replaced")),
            "b's client to be replaced",
            "30 seconds"
          )
          // Once a gave its partitions up, the group forms with a and b's new client.
          yield* eventually(() => b.owned.size === 1 && a.owned.size === 1, "one partition each", "60 seconds")
          const mine = [...b.owned][0]!
          yield* eventually(
            () => b.handed.filter((h) => h.startsWith(`${mine}:`)).length === 100,
            "b to read its partition from the start (nothing was committed)"
          )
          const replaced = b.logs.filter((line) => line.includes("its librdkafka client was replaced"))
          console.info(
            `[sluice] watchdog (${membership}): b's client replaced ${replaced.length} time(s): ${replaced[0]}`
          )
          expect(replaced[0]).toMatch(/out of its group for \d+ s \(state \S+, join state \S+\)/)
          expect(b.outside).toEqual([])
          expect(a.outside).toEqual([])
          yield* b.close
          yield* a.close
        }).pipe(Effect.provide(layer)),
      120_000
    )
  }
})
