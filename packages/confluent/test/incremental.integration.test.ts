/**
 * What the incremental protocols give the engine, seen at the driver's port on the real
 * broker: under cooperative-sticky and KIP-848 a rebalance revokes only the partitions that
 * move (the driver's half of G11); a static member restarted within its session timeout gets
 * its partitions back and the other member sees no rebalance.
 *
 * librdkafka stops fetching *every* assigned partition while a rebalance waits for the
 * application (`rdkafka_cgrp.c:1341-1348`, a library pause that the application's `resume`
 * cannot lift), so the partitions that stay get no new records while the moved ones drain;
 * their buffered records and their commits go on. The test measures that gap.
 */
import { describe, expect, it } from "@effect/vitest"
import type { GroupListener, Subscription } from "@sluice/core/ConsumerDriver"
import type * as TP from "@sluice/core/TopicPartition"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { TestCluster } from "@sluice/testkit/TestCluster"
import { eventually, numberedRecords, uniqueName } from "@sluice/testkit/TestHelpers"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as ConfluentDriver from "../src/ConfluentDriver.js"
import * as ConfluentTestCluster from "./ConfluentTestCluster.js"

const broker = await brokerForTests()

interface Seen {
  readonly at: number
  readonly event: "assigning" | "assigned" | "revoking" | "revoked" | "lost" | "records"
  readonly partitions: ReadonlyArray<number>
}

/** A member at the port: a listener that records what the driver calls, and can hold a revocation. */
const member = (
  driver: ConfluentDriver.ConsumerOptions,
  subscription: Subscription,
  options: { readonly holdRevocation?: Duration.DurationInput; readonly holdAssignment?: Duration.DurationInput } = {}
) =>
  Effect.gen(function* () {
    const seen: Array<Seen> = []
    const owned = new Set<number>()
    const note = (event: Seen["event"], partitions: ReadonlyArray<TP.TopicPartition>) =>
      seen.push({ at: Date.now(), event, partitions: partitions.map((tp) => tp.partition).sort() })
    const listener: GroupListener = {
      onAssigned: (assignments) =>
        Effect.gen(function* () {
          const partitions = assignments.map((a) => a.topicPartition)
          note("assigning", partitions)
          if (options.holdAssignment !== undefined && assignments.length > 0)
            yield* Effect.sleep(options.holdAssignment)
          for (const a of assignments) owned.add(a.topicPartition.partition)
          note("assigned", partitions)
        }),
      onRevoked: (partitions) =>
        Effect.gen(function* () {
          note("revoking", partitions)
          if (options.holdRevocation !== undefined) yield* Effect.sleep(options.holdRevocation)
          for (const tp of partitions) owned.delete(tp.partition)
          note("revoked", partitions)
        }),
      onLost: (partitions) =>
        Effect.sync(() => {
          for (const tp of partitions) owned.delete(tp.partition)
          note("lost", partitions)
        }),
      onRecords: (tp, records) =>
        Effect.sync(() => {
          // A record before its partition's onAssigned returned would break the port's contract.
          if (!owned.has(tp.partition)) note("lost", [tp])
          if (records.length > 0) note("records", [tp])
        })
    }
    const scope = yield* Scope.make()
    const consumer = yield* ConfluentDriver.make({ brokers: broker!.brokers, logLevel: "error" }, driver)
    yield* Scope.extend(consumer.subscribe(subscription, listener), scope)
    return { seen, owned, close: Scope.close(scope, Exit.void) }
  })

const subscriptionOf = (groupId: string, topic: string, clientId: string, groupInstanceId?: string): Subscription => ({
  groupId,
  topics: [topic],
  startFrom: "latest",
  sessionTimeout: Duration.seconds(10),
  rebalanceTimeout: Duration.seconds(30),
  heartbeatInterval: Duration.millis(500),
  maxBytesPerPartition: 1_048_576,
  clientId,
  groupInstanceId
})

/** Produces a record to every partition every 50 ms, for as long as the scope lives. */
const steadily = (topic: string, partitions: number) =>
  Effect.gen(function* () {
    const cluster = yield* TestCluster
    let from = 0
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.zipRight(
          Effect.suspend(() => {
            from += partitions
            return cluster.produce(numberedRecords(topic, partitions, partitions, from))
          }),
          Effect.sleep("50 millis")
        )
      )
    )
  })

/**
 * A four-partition topic with member `a` alone on it, then member `b` (dynamic) joining: both,
 * once each owns two partitions.
 */
const joined = (
  name: string,
  options: ConfluentDriver.ConsumerOptions,
  a: { readonly holdRevocation?: Duration.DurationInput; readonly groupInstanceId?: string },
  traffic: boolean
) =>
  Effect.gen(function* () {
    const cluster = yield* TestCluster
    const topic = uniqueName(name)
    const groupId = uniqueName(`${name}-group`)
    yield* cluster.createTopic(topic, 4)
    if (traffic) yield* steadily(topic, 4)
    const first = yield* member(
      options,
      subscriptionOf(groupId, topic, "a", a.groupInstanceId),
      a.holdRevocation === undefined ? {} : { holdRevocation: a.holdRevocation }
    )
    yield* eventually(() => first.owned.size === 4, "a to own all four partitions", "60 seconds")
    const second = yield* member(options, subscriptionOf(groupId, topic, "b"))
    yield* eventually(() => second.owned.size === 2 && first.owned.size === 2, "two partitions each", "60 seconds")
    return { a: first, b: second, groupId, topic }
  })

const incremental: ReadonlyArray<[string, ConfluentDriver.ConsumerOptions]> = [
  ["cooperative", { groupProtocol: "classic", assignor: "cooperative-sticky" }],
  ["kip848", { groupProtocol: "consumer" }]
]

describe.skipIf(broker === undefined)("confluent: incremental rebalancing on a real broker", () => {
  const layer = ConfluentTestCluster.layer(broker?.brokers ?? [])

  for (const [protocol, options] of incremental) {
    it.scopedLive(
      `G11 (${protocol}) a joining member takes only what moves: the partitions that stay are never revoked, and librdkafka fetches them again as soon as the moved ones are given up`,
      () =>
        Effect.gen(function* () {
          // a's revocations are held 3 s: its owned set shrinks only once they are done.
          const { a, b } = yield* joined(`g11-${protocol}`, options, { holdRevocation: "3 seconds" }, true)
          const revoking = a.seen.filter((s) => s.event === "revoking")
          const revokedPartitions = new Set(revoking.flatMap((s) => s.partitions))
          // Only what moved to b was revoked; nothing a kept.
          expect([...revokedPartitions].sort()).toEqual([...b.owned].sort())
          for (const kept of a.owned) expect(revokedPartitions.has(kept)).toBe(false)
          // librdkafka fetched nothing while the moved partitions drained (held 3 s), and
          // fetches the kept ones again right after the revocation was acknowledged.
          const end = a.seen.find((s) => s.event === "revoked")!.at
          yield* eventually(
            () =>
              [...a.owned].every((kept) =>
                a.seen.some((s) => s.event === "records" && s.at > end && s.partitions.includes(kept))
              ),
            "records of the kept partitions after the revocation",
            "5 seconds"
          )
          expect(a.seen.filter((s) => s.event === "lost")).toEqual([])
          yield* b.close
          yield* a.close
        }).pipe(Effect.provide(layer)),
      120_000
    )

    it.scopedLive(
      `G11 (${protocol}) while the engine takes its time over newly assigned partitions, the partitions the member keeps go on being fetched and delivered`,
      () =>
        Effect.gen(function* () {
          const cluster = yield* TestCluster
          const topic = uniqueName(`g11-assign-${protocol}`)
          const groupId = uniqueName(`g11-assign-${protocol}-group`)
          yield* cluster.createTopic(topic, 4)
          yield* steadily(topic, 4)
          // a holds every non-empty assignment 3 s in onAssigned (the engine reading offsets,
          // starting workers, … made slow).
          const a = yield* member(options, subscriptionOf(groupId, topic, "a"), { holdAssignment: "3 seconds" })
          yield* eventually(() => a.owned.size === 4, "a to own all four partitions", "60 seconds")
          const b = yield* member(options, subscriptionOf(groupId, topic, "b"))
          yield* eventually(() => b.owned.size === 2 && a.owned.size === 2, "two partitions each", "60 seconds")
          const kept = [...a.owned]
          // b leaves: its two partitions come back to a, whose onAssigned takes 3 s.
          yield* b.close
          yield* eventually(() => a.owned.size === 4, "a to own all four again", "60 seconds")
          const assigning = a.seen.filter((s) => s.event === "assigning" && s.partitions.length > 0).at(-1)!
          const assigned = a.seen.filter((s) => s.event === "assigned" && s.partitions.length > 0).at(-1)!
          expect(assigned.at - assigning.at).toBeGreaterThanOrEqual(2900)
          // Records of every kept partition arrived while onAssigned was held …
          for (const partition of kept) {
            expect(
              a.seen.some(
                (s) =>
                  s.event === "records" &&
                  s.at > assigning.at + 500 &&
                  s.at < assigned.at &&
                  s.partitions.includes(partition)
              ),
              `records of kept partition ${partition} during the assignment`
            ).toBe(true)
          }
          // … none of a new one before its onAssigned returned (a "lost" note would say so).
          expect(a.seen.filter((s) => s.event === "lost")).toEqual([])
          yield* eventually(
            () =>
              assigning.partitions.every((p) =>
                a.seen.some((s) => s.event === "records" && s.at > assigned.at && s.partitions.includes(p))
              ),
            "records of the new partitions after onAssigned",
            "10 seconds"
          )
          yield* a.close
        }).pipe(Effect.provide(layer)),
      120_000
    )

    it.scopedLive(
      `G11 (${protocol}) a static member restarted within its session timeout gets its partitions back; the other member sees no rebalance`,
      () =>
        Effect.gen(function* () {
          const instance = uniqueName("instance")
          const { a, b, groupId, topic } = yield* joined(
            `static-${protocol}`,
            options,
            { groupInstanceId: instance },
            false
          )
          const kept = [...a.owned].sort()
          const before = b.seen.length
          yield* a.close
          const again = yield* member(options, subscriptionOf(groupId, topic, "a", instance))
          yield* eventually(() => again.owned.size === 2, "the restarted a to get its partitions", "30 seconds")
          expect([...again.owned].sort()).toEqual(kept)
          // Give a rebalance time to show, if there were one.
          yield* Effect.sleep("3 seconds")
          expect(b.seen.slice(before).filter((s) => s.event !== "records")).toEqual([])
          yield* again.close
          yield* b.close
        }).pipe(Effect.provide(layer)),
      120_000
    )
  }
})
