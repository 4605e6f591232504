import { describe, expect, it } from "@effect/vitest"
import type { GroupSession } from "@sluice/core/ConsumerDriver"
import { ConsumerDriver } from "@sluice/core/ConsumerDriver"
import type { KafkaError } from "@sluice/core/KafkaError"
import type { TopicPartition } from "@sluice/core/TopicPartition"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { eventually, uniqueName } from "@sluice/testkit/TestHelpers"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as KafkaJsDriver from "../src/KafkaJsDriver.js"
import { committed, createTopic, type Event, produce, recorder, subscription } from "./support.js"

const driver = (brokers: ReadonlyArray<string>) =>
  KafkaJsDriver.make({ brokers, logLevel: "error" }).pipe(Effect.map((d) => ConsumerDriver.of(d)))

const decode = (bytes: Uint8Array | null) => (bytes === null ? null : new TextDecoder().decode(bytes))

/** Subscribes in a scope of its own, so a test can make a member leave. */
const member = (
  brokers: ReadonlyArray<string>,
  sub: ReturnType<typeof subscription>,
  listener: ReturnType<typeof recorder>["listener"]
) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const d = yield* driver(brokers)
    const session = yield* Scope.extend(d.subscribe(sub, listener), scope)
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    return { session, leave: Scope.close(scope, Exit.void) }
  })

const ofPartitions = (events: ReadonlyArray<Event>, tag: Event["_tag"]) => events.filter((e) => e._tag === tag)

describe("KafkaJsDriver without a broker", () => {
  it.live("unreachable brokers fail subscribe with a connection KafkaError within seconds", () =>
    Effect.gen(function* () {
      const d = yield* driver(["127.0.0.1:1"])
      const started = Date.now()
      const error = yield* Effect.flip(
        Effect.scoped(d.subscribe(subscription("t", uniqueName("g")), recorder().listener))
      )
      const elapsed = Date.now() - started
      expect(error._tag).toBe("KafkaError")
      expect(error.reason).toBe("connection")
      expect(error.retriable).toBe(true)
      expect(error.message).toContain("ECONNREFUSED")
      expect(elapsed).toBeLessThan(10_000)
    })
  )

  it.live("a heartbeat interval not below the session timeout is a typed error, not a defect", () =>
    Effect.gen(function* () {
      const d = yield* driver(["127.0.0.1:1"])
      const sub = subscription("t", uniqueName("g"), { heartbeatInterval: Duration.seconds(10) })
      const error = yield* Effect.flip(Effect.scoped(d.subscribe(sub, recorder().listener)))
      expect(error.reason).toBe("unknown")
      expect(error.message).toContain("heartbeatInterval")
    })
  )
})

const broker = await brokerForTests()

describe.skipIf(broker === undefined)("KafkaJsDriver on a real broker", () => {
  const b = broker?.brokers ?? []

  it.scopedLive("a missing topic fails subscribe with a protocol error naming UNKNOWN_TOPIC_OR_PARTITION", () =>
    Effect.gen(function* () {
      const d = yield* driver(b)
      const started = Date.now()
      const error = yield* Effect.flip(
        Effect.scoped(d.subscribe(subscription(uniqueName("sluice-missing"), uniqueName("g")), recorder().listener))
      )
      expect(error.reason).toBe("protocol")
      expect(error.message).toContain("UNKNOWN_TOPIC_OR_PARTITION")
      expect(Date.now() - started).toBeLessThan(15_000)
    })
  )

  it.scopedLive(
    "delivers in offset order with keys, values and headers; a commit and its metadata reach the next member",
    () =>
      Effect.gen(function* () {
        const topic = uniqueName("sluice-deliver")
        const groupId = uniqueName("g")
        yield* createTopic(b, topic, 2)
        const acks = yield* produce(b, topic, 2, 5)
        expect(acks.map((a) => `${a.partition}:${a.offset}`)).toEqual([
          "0:0",
          "0:1",
          "0:2",
          "0:3",
          "0:4",
          "1:0",
          "1:1",
          "1:2",
          "1:3",
          "1:4"
        ])

        const first = recorder()
        const a = yield* member(b, subscription(topic, groupId), first.listener)
        yield* eventually(() => first.records().length === 10, "the first member's 10 records")
        const assigned = ofPartitions(first.events, "assigned")
        expect(assigned).toHaveLength(1)
        expect(first.events[0]?._tag).toBe("assigned")
        for (const p of [0, 1]) {
          const records = first.records().filter((r) => r.partition === p)
          expect(records.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4])
          expect(records.map((r) => decode(r.key))).toEqual(["k0", "k1", "k2", "k3", "k4"])
          expect(records.map((r) => decode(r.value))).toEqual(["v0", "v1", "v2", "v3", "v4"])
          expect(records.map((r) => r.headers.map((h) => `${h.key}=${decode(h.value)}`))).toEqual([
            ["i=0"],
            ["i=1"],
            ["i=2"],
            ["i=3"],
            ["i=4"]
          ])
          expect(records.every((r) => r.timestamp > Date.now() - 120_000)).toBe(true)
        }
        expect(yield* a.session.memberId).toMatch(/^sluice-test-/)

        yield* a.session.commit([
          { topic, partition: 0, offset: 3, metadata: "finished:4" },
          { topic, partition: 1, offset: 5 }
        ])
        expect(yield* committed(b, groupId, topic)).toEqual(
          new Map([
            [0, 3],
            [1, 5]
          ])
        )
        // Not owned any more: refused, so that nothing is committed after a revocation (G2).
        yield* a.leave
        const refused = yield* Effect.flip(a.session.commit([{ topic, partition: 0, offset: 4 }]))
        expect(refused.reason).toBe("rebalance")

        const second = recorder()
        yield* member(b, subscription(topic, groupId), second.listener)
        yield* eventually(() => second.records().length === 2, "the next member's 2 records")
        const [assignment] = ofPartitions(second.events, "assigned") as Array<Extract<Event, { _tag: "assigned" }>>
        const byPartition = new Map(assignment!.partitions.map((p) => [p.topicPartition.partition, p.committed]))
        expect(byPartition.get(0)).toEqual({ offset: 3, metadata: "finished:4" })
        expect(byPartition.get(1)).toEqual({ offset: 5, metadata: "" })
        expect(second.records().map((r) => `${r.partition}:${r.offset}`)).toEqual(["0:3", "0:4"])
      })
  )

  it.scopedLive(
    "a rebalance does not commit unprocessed offsets; the old owner's onRevoked ends before the new owner's onAssigned",
    () =>
      Effect.gen(function* () {
        const topic = uniqueName("sluice-rebalance")
        const groupId = uniqueName("g")
        yield* createTopic(b, topic, 2)
        yield* produce(b, topic, 2, 10)

        // A receives everything and never marks or commits anything.
        const a = recorder()
        yield* member(b, subscription(topic, groupId), a.listener)
        yield* eventually(() => a.records().length === 20, "A's 20 records")

        const bb = recorder()
        yield* member(b, subscription(topic, groupId), bb.listener)
        yield* eventually(
          () => ofPartitions(bb.events, "assigned").length === 1 && bb.records().length > 0,
          "B's assignment and first records"
        )
        yield* eventually(() => ofPartitions(a.events, "assigned").length === 2, "A's second assignment")

        const revoked = ofPartitions(a.events, "revoked") as Array<Extract<Event, { _tag: "revoked" }>>
        expect(revoked).toHaveLength(1)
        expect(revoked[0]!.partitions.map((p) => p.partition).sort()).toEqual([0, 1])
        expect(ofPartitions(a.events, "lost")).toHaveLength(0)
        const bAssigned = ofPartitions(bb.events, "assigned")[0]!
        expect(revoked[0]!.end).toBeLessThanOrEqual(bAssigned.at)

        // Nothing was committed: B starts its partition from the beginning.
        expect((yield* committed(b, groupId, topic)).size).toBe(0)
        const bPartitions = (bAssigned as Extract<Event, { _tag: "assigned" }>).partitions
        expect(bPartitions).toHaveLength(1)
        expect(bPartitions[0]!.committed).toBeUndefined()
        yield* eventually(() => bb.records().length === 10, "B's 10 records")
        expect(bb.records().map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])

        // A saw no records between the start of its revocation and its next assignment.
        const reassigned = ofPartitions(a.events, "assigned")[1]!
        const between = a.events.filter((e) => e._tag === "records" && e.at >= revoked[0]!.at && e.at < reassigned.at)
        expect(between).toHaveLength(0)
      })
  )

  /**
   * The old owner drains for `drain` and commits what it handled inside onRevoked; the new
   * owner's first records come after that and start at the commit.
   */
  const handOver = (drain: Duration.DurationInput, sessionTimeout: Duration.DurationInput) =>
    Effect.gen(function* () {
      const topic = uniqueName("sluice-handover")
      const groupId = uniqueName("g")
      yield* createTopic(b, topic, 2)
      yield* produce(b, topic, 2, 10)
      const sub = subscription(topic, groupId, {
        sessionTimeout: Duration.decode(sessionTimeout),
        heartbeatInterval: Duration.seconds(1),
        rebalanceTimeout: Duration.seconds(40)
      })

      const sessionA = yield* Deferred.make<GroupSession>()
      const commitResult: Array<Exit.Exit<void, KafkaError>> = []
      const a = recorder({
        revoke: (partitions: ReadonlyArray<TopicPartition>) =>
          Effect.gen(function* () {
            yield* Effect.sleep(drain)
            const session = yield* Deferred.await(sessionA)
            // "Handled" the first 7 records of each partition.
            const exit = yield* Effect.exit(session.commit(partitions.map((p) => ({ ...p, offset: 7, metadata: "a" }))))
            commitResult.push(exit)
          })
      })
      const ma = yield* member(b, sub, a.listener)
      yield* Deferred.succeed(sessionA, ma.session)
      yield* eventually(() => a.records().length === 20, "A's 20 records")
      const memberA = yield* ma.session.memberId

      const bb = recorder()
      yield* member(b, sub, bb.listener)
      yield* eventually(() => bb.records().length >= 3, "B's first 3 records", "40 seconds")

      expect(commitResult).toHaveLength(1)
      expect(Exit.isSuccess(commitResult[0]!)).toBe(true)
      expect(ofPartitions(a.events, "lost")).toHaveLength(0)
      // A kept its membership through the revocation.
      expect(yield* ma.session.memberId).toBe(memberA)
      const revoked = ofPartitions(a.events, "revoked")[0] as Extract<Event, { _tag: "revoked" }>
      expect(revoked.end - revoked.at).toBeGreaterThanOrEqual(Duration.toMillis(Duration.decode(drain)) - 50)
      const firstOfB = ofPartitions(bb.events, "records")[0]!
      expect(firstOfB.at).toBeGreaterThanOrEqual(revoked.end)
      const assignedB = (ofPartitions(bb.events, "assigned")[0] as Extract<Event, { _tag: "assigned" }>).partitions
      expect(assignedB.map((p) => p.committed)).toEqual([{ offset: 7, metadata: "a" }])
      expect(bb.records().map((r) => r.offset)).toEqual([7, 8, 9])
    })

  it.scopedLive("the revocation (drain + commit) completes before the partition's new owner fetches", () =>
    handOver("3 seconds", "10 seconds")
  )

  it.scopedLive(
    "a revocation longer than the session timeout keeps the member (the gate heartbeats): 10 s drain, 6 s session",
    () => handOver("10 seconds", "6 seconds")
  )

  it.scopedLive(
    "heartbeats go on while the engine takes 10 s over records (6 s session): no rebalance, commit accepted",
    () =>
      Effect.gen(function* () {
        const topic = uniqueName("sluice-slow")
        const groupId = uniqueName("g")
        yield* createTopic(b, topic, 1)
        yield* produce(b, topic, 1, 5)
        const scope = yield* Effect.scope
        const session = yield* Deferred.make<GroupSession>()
        const done = yield* Deferred.make<Exit.Exit<void, KafkaError>>()
        // The fake engine: onRecords returns at once after pausing the partition, as the real
        // engine does when its buffer is full, and the "handler" takes 10 s in a fiber.
        const slow = recorder({
          receive: (partition, records) =>
            Effect.gen(function* () {
              const s = yield* Deferred.await(session)
              yield* s.pause([partition])
              yield* Effect.gen(function* () {
                yield* Effect.sleep("10 seconds")
                const exit = yield* Effect.exit(
                  s.commit([{ ...partition, offset: records[records.length - 1]!.offset + 1 }])
                )
                yield* s.resume([partition])
                yield* Deferred.succeed(done, exit)
              }).pipe(Effect.forkIn(scope))
            })
        })
        const m = yield* member(b, subscription(topic, groupId, { sessionTimeout: Duration.seconds(6) }), slow.listener)
        yield* Deferred.succeed(session, m.session)
        const memberId = yield* m.session.memberId
        const exit = yield* Deferred.await(done).pipe(Effect.timeout("30 seconds"))
        expect(Exit.isSuccess(exit)).toBe(true)
        expect(ofPartitions(slow.events, "revoked")).toHaveLength(0)
        expect(ofPartitions(slow.events, "lost")).toHaveLength(0)
        expect(ofPartitions(slow.events, "assigned")).toHaveLength(1)
        expect(yield* m.session.memberId).toBe(memberId)
        expect(yield* committed(b, groupId, topic)).toEqual(new Map([[0, 5]]))
      })
  )

  it.scopedLive(
    "a member whose session expired reports its partitions lost, not revoked, and rejoins as a new member",
    () =>
      Effect.gen(function* () {
        const topic = uniqueName("sluice-lost")
        const groupId = uniqueName("g")
        yield* createTopic(b, topic, 1)
        yield* produce(b, topic, 1, 3)
        let calls = 0
        // Holding kafkajs's loop in onRecords (which the engine never does) stops heartbeats:
        // the coordinator expires the session and answers the next heartbeat UNKNOWN_MEMBER_ID.
        const m = recorder({ receive: () => (calls++ === 0 ? Effect.sleep("9 seconds") : Effect.void) })
        const { session } = yield* member(
          b,
          subscription(topic, groupId, { sessionTimeout: Duration.seconds(6), heartbeatInterval: Duration.seconds(1) }),
          m.listener
        )
        const first = yield* session.memberId
        yield* eventually(
          () => ofPartitions(m.events, "assigned").length === 2 && m.records().length === 6,
          "the second assignment and its records",
          "40 seconds"
        )
        expect(ofPartitions(m.events, "revoked")).toHaveLength(0)
        const lost = ofPartitions(m.events, "lost") as Array<Extract<Event, { _tag: "lost" }>>
        expect(lost).toHaveLength(1)
        expect(lost[0]!.partitions).toEqual([{ topic, partition: 0 }])
        expect(m.events.map((e) => e._tag)).toEqual(["assigned", "records", "lost", "assigned", "records"])
        expect(yield* session.memberId).not.toBe(first)
        // Nothing was committed, so the new member starts over.
        expect(m.records().map((r) => r.offset)).toEqual([0, 1, 2, 0, 1, 2])
      })
  )

  it.scopedLive("a paused partition gets no records until resumed", () =>
    Effect.gen(function* () {
      const topic = uniqueName("sluice-pause")
      const groupId = uniqueName("g")
      yield* createTopic(b, topic, 2)
      yield* produce(b, topic, 2, 3)
      const m = recorder()
      const { session } = yield* member(b, subscription(topic, groupId), m.listener)
      yield* eventually(() => m.records().length === 6, "the first 6 records")
      const p0 = { topic, partition: 0 }
      yield* session.pause([p0])
      yield* produce(b, topic, 2, 3)
      yield* eventually(() => m.records().filter((r) => r.partition === 1).length === 6, "partition 1's new records")
      yield* Effect.sleep("2 seconds")
      expect(m.records().filter((r) => r.partition === 0)).toHaveLength(3)
      yield* session.resume([p0])
      yield* eventually(
        () => m.records().filter((r) => r.partition === 0).length === 6,
        "partition 0's records after resume"
      )
      expect(
        m
          .records()
          .filter((r) => r.partition === 0)
          .map((r) => r.offset)
      ).toEqual([0, 1, 2, 3, 4, 5])
    })
  )
})
