/**
 * KIP-848's consumer group protocol on the simulated cluster (`protocol: "consumer"`): a
 * target assignment computed by the coordinator, members that reconcile without a join
 * barrier (revoke first, then the new owner takes the partition), member and group epochs,
 * and epoch fencing. Driver-level tests with recording listeners, and one through the engine.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Consumer from "@sluice/core/Consumer"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as TP from "@sluice/core/TopicPartition"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import {
  clusterWithTopic,
  eventually,
  everyPartitionOnce,
  type LogEntry,
  member,
  numbered,
  provide,
  settle
} from "./support.js"

const kip848 = { protocol: "consumer", assignor: "sticky" } as const

describe("memory: KIP-848 consumer protocol", () => {
  it.effect(
    "G11 (simulated, consumer protocol) a joining member takes only what moves: its owner revokes exactly those first, the new owner gets them after that revocation completed, the partitions that stay are never revoked",
    () =>
      provide(
        Effect.gen(function* () {
          const kafka = yield* clusterWithTopic("t", 6)
          const log: Array<LogEntry> = []
          const a = yield* member("a", log)
          const first = yield* kafka.awaitStable("g")
          expect(a.owned.size).toBe(6)
          const aId = (yield* a.session!.memberId)!
          expect(first.members[0]!.generation).toBe(first.generation)

          const b = yield* member("b", log)
          const after = yield* kafka.awaitStable("g")
          const bId = (yield* b.session!.memberId)!
          everyPartitionOnce(after, "t", 6)
          // Member epochs meet the group epoch once both reconciled.
          expect(after.generation).toBeGreaterThan(first.generation)
          for (const m of after.members) expect(m.generation).toBe(after.generation)
          // a was asked once, for exactly the three partitions that moved, and never lost any.
          const revoking = log.filter((e) => e.member === "a" && e.type === "revoking")
          expect(revoking).toHaveLength(1)
          expect(revoking[0]!.partitions).toHaveLength(3)
          expect(log.filter((e) => e.type === "lost")).toEqual([])
          expect([...b.owned].sort()).toEqual([...revoking[0]!.partitions].sort())
          // a's three others kept their first ownership: never ended.
          const history = yield* kafka.ownershipHistory("g")
          const open = history.filter((e) => e.memberId === aId && e.until === undefined)
          expect(open.map((e) => TP.key(e)).sort()).toEqual([...a.owned].sort())
          expect(open).toHaveLength(3)
          // b's ownership of each moved partition began after a's revocation of it completed.
          const events = yield* kafka.groupEvents("g")
          const revoked = events.find((e) => e.type === "revoked" && e.memberId === aId)!
          const taken = history.filter((e) => e.memberId === bId)
          expect(taken).toHaveLength(3)
          for (const entry of taken) expect(entry.seq).toBeGreaterThan(revoked.seq)
          // No barrier, no generation: nothing like a join/sync round was asked of b before it got them.
          expect(log.filter((e) => e.member === "b" && e.type !== "assigned")).toEqual([])
        }),
        kip848
      )
  )

  it.effect(
    "G11 (simulated, consumer protocol) no join barrier: while one member still revokes, a released partition goes to its new owner at once, and the others' retained partitions keep delivering and committing",
    () =>
      provide(
        Effect.gen(function* () {
          const kafka = yield* clusterWithTopic("t", 6)
          const log: Array<LogEntry> = []
          const hold = yield* Deferred.make<void>()
          let holding = false
          // Once c joins, a's revocation waits until the test lets it go; b's completes at once.
          const a = yield* member("a", log, {
            hooks: { onRevoked: () => (holding ? Deferred.await(hold) : Effect.void) }
          })
          yield* kafka.awaitStable("g")
          const b = yield* member("b", log)
          yield* kafka.awaitStable("g")
          expect(a.owned.size).toBe(3)
          expect(b.owned.size).toBe(3)
          const bBefore = new Set(b.owned)
          holding = true
          const mark = log.length
          const since = () => log.slice(mark)

          const c = yield* member("c", log)
          // b has given up its one partition and c holds it, while a is still inside onRevoked.
          yield* eventually(
            () => since().some((e) => e.member === "b" && e.type === "revoked") && c.owned.size === 1,
            "b's released partition assigned to c"
          )
          expect(since().some((e) => e.member === "a" && e.type === "revoking")).toBe(true)
          expect(since().some((e) => e.member === "a" && e.type === "revoked")).toBe(false)
          const snapshot = yield* kafka.group("g")
          expect(snapshot!.state).toBe("rebalancing")
          const bKept = [...b.owned]
          expect(bKept).toHaveLength(2)
          for (const key of bKept) expect(bBefore.has(key)).toBe(true)
          // b's retained partitions are delivered and committed meanwhile.
          const before = bKept.map((key) => b.received.get(key)?.length ?? 0)
          yield* kafka.produce(numbered("t", 60, 6))
          yield* eventually(
            () => bKept.every((key, i) => (b.received.get(key)?.length ?? 0) >= before[i]! + 10),
            "b's retained partitions delivered"
          )
          yield* b.session!.commit(bKept.map((key) => ({ ...TP.fromKey(key), offset: 1 })))
          const bId = (yield* b.session!.memberId)!
          const committed = (yield* kafka.commitLog("g")).filter((e) => e.memberId === bId)
          expect(committed).toHaveLength(2)

          yield* Deferred.succeed(hold, undefined)
          const after = yield* kafka.awaitStable("g")
          everyPartitionOnce(after, "t", 6)
          for (const m of after.members) expect(m.assigned).toHaveLength(2)
          // b was asked to revoke only the one that moved; nothing was lost.
          const bRevoking = since().filter((e) => e.member === "b" && e.type === "revoking")
          expect(bRevoking).toHaveLength(1)
          expect(bRevoking[0]!.partitions).toHaveLength(1)
          expect(log.filter((e) => e.type === "lost")).toEqual([])
        }),
        kip848
      )
  )

  it.effect(
    "G11 (simulated, consumer protocol) a member whose share only grows is never asked to revoke: a leaving member's partitions go to the one that stays",
    () =>
      provide(
        Effect.gen(function* () {
          const kafka = yield* clusterWithTopic("t", 4)
          const log: Array<LogEntry> = []
          const a = yield* member("a", log)
          const b = yield* member("b", log)
          yield* kafka.awaitStable("g")
          expect(a.owned.size).toBe(2)
          yield* b.leave
          yield* kafka.awaitStable("g")
          expect(a.owned.size).toBe(4)
          expect(log.filter((e) => e.member === "a" && e.type !== "assigned")).toEqual([])
        }),
        kip848
      )
  )

  it.effect(
    "G2 (simulated, consumer protocol) a fenced member's partitions are lost, its commit with the stale epoch is rejected; it rejoins with its member id at epoch 0",
    () =>
      provide(
        Effect.gen(function* () {
          const kafka = yield* clusterWithTopic("t", 2)
          const log: Array<LogEntry> = []
          const a = yield* member("a", log)
          const b = yield* member("b", log)
          const stable = yield* kafka.awaitStable("g")
          const aId = (yield* a.session!.memberId)!
          const epoch = stable.members.find((m) => m.memberId === aId)!.generation
          const mine = [...a.owned].map(TP.fromKey)
          expect(mine).toHaveLength(1)

          yield* kafka.faults.fence(aId)
          // Before its client learns of the fencing, a commits with the epoch it still holds.
          const error = yield* Effect.flip(a.session!.commit(mine.map((tp) => ({ ...tp, offset: 1 }))))
          expect(error.reason).toBe("rebalance")
          expect(error.retriable).toBe(false)
          expect(error.message).toMatch(/fenced member epoch/)
          const rejected = (yield* kafka.rejectedCommits("g")).at(-1)!
          expect(rejected.memberId).toBe(aId)
          expect(rejected.generation).toBe(epoch)
          expect(yield* kafka.committed("g", "t")).toEqual(new Map())

          // Its partition was lost (not revoked) and went to b without waiting for a.
          const after = yield* kafka.awaitStable("g")
          expect(a.lost).toEqual(mine.map(TP.key))
          expect(log.filter((e) => e.member === "a" && e.type === "revoking")).toEqual([])
          everyPartitionOnce(after, "t", 2)
          const history = yield* kafka.ownershipHistory("g")
          expect(history.find((e) => e.memberId === aId && TP.equals(e, mine[0]!))!.end).toBe("lost")
          // Same member id, a fresh membership from epoch 0 up to the group epoch.
          expect(yield* a.session!.memberId).toBe(aId)
          const joined = (yield* kafka.groupEvents("g")).filter((e) => e.type === "joined" && e.memberId === aId)
          expect(joined.map((e) => e.detail)).toEqual([undefined, "rejoined after expulsion"])
          expect(after.members.find((m) => m.memberId === aId)!.generation).toBe(after.generation)
          // Under its new epoch it commits what it owns now.
          yield* a.session!.commit([...a.owned].map((k) => ({ ...TP.fromKey(k), offset: 0 })))
          yield* b.session!.commit([...b.owned].map((k) => ({ ...TP.fromKey(k), offset: 0 })))
        }),
        kip848
      )
  )

  it.effect(
    "G2 (simulated, consumer protocol) a crashed member keeps its partitions until its session expires; then they are lost and move, and a member late with a revocation is fenced",
    () =>
      provide(
        Effect.gen(function* () {
          const kafka = yield* clusterWithTopic("t", 4)
          const log: Array<LogEntry> = []
          const a = yield* member("a", log, { subscription: { sessionTimeout: Duration.seconds(10) } })
          yield* kafka.awaitStable("g")
          const aId = (yield* a.session!.memberId)!
          yield* kafka.faults.crash(aId)
          // b joins: its target waits for a, which sends no heartbeat and revokes nothing.
          const b = yield* member("b", log)
          yield* settle
          expect(b.owned.size).toBe(0)
          expect((yield* kafka.group("g"))!.state).toBe("rebalancing")
          yield* TestClock.adjust("10 seconds")
          const after = yield* kafka.awaitStable("g")
          expect(after.members.map((m) => m.memberId)).toEqual([(yield* b.session!.memberId)!])
          expect(b.owned.size).toBe(4)
          const ends = (yield* kafka.ownershipHistory("g")).filter((e) => e.memberId === aId).map((e) => e.end)
          expect(ends).toEqual(["lost", "lost", "lost", "lost"])

          // A live member whose onRevoked outlasts its rebalance timeout is fenced: its partitions are lost.
          const slow = yield* member("c", log, {
            subscription: { rebalanceTimeout: Duration.seconds(5) },
            hooks: { onRevoked: () => Effect.never }
          })
          yield* kafka.awaitStable("g")
          yield* b.leave
          yield* kafka.awaitStable("g")
          expect(slow.owned.size).toBe(4)
          const cId = (yield* slow.session!.memberId)!
          const d = yield* member("d", log)
          yield* settle
          expect(d.owned.size).toBe(0)
          yield* TestClock.adjust("5 seconds")
          yield* eventually(() => d.owned.size === 4, "c fenced, d takes everything")
          const events = yield* kafka.groupEvents("g")
          expect(events.some((e) => e.type === "expelled" && e.memberId === cId)).toBe(true)
          const cEnds = (yield* kafka.ownershipHistory("g")).filter((e) => e.memberId === cId).map((e) => e.end)
          expect(cEnds.filter((end) => end === "lost")).toHaveLength(4)
        }),
        kip848
      )
  )

  it.effect(
    "G11 (simulated, consumer protocol) a static member restarted within its session timeout gets its partitions back; no other member's partition moves and the group epoch stays",
    () =>
      provide(
        Effect.gen(function* () {
          const kafka = yield* clusterWithTopic("t", 4)
          const log: Array<LogEntry> = []
          const staticMember = { groupInstanceId: "host-a", sessionTimeout: Duration.seconds(10) }
          const a = yield* member("a", log, { subscription: staticMember })
          const b = yield* member("b", log)
          const before = yield* kafka.awaitStable("g")
          const aId = (yield* a.session!.memberId)!
          const aOwned = [...a.owned].sort()
          const bOwned = [...b.owned].sort()
          expect(aOwned).toHaveLength(2)
          const mark = log.length

          // The process stops (its engine drained and committed), and a new one starts.
          yield* a.leave
          const away = yield* kafka.awaitStable("g")
          expect(away.generation).toBe(before.generation)
          expect(away.members.find((m) => m.memberId === aId)).toMatchObject({ status: "left", generation: -2 })
          expect(yield* kafka.ownerOf("t", TP.fromKey(aOwned[0]!).partition, "g")).toBe(aId)
          yield* TestClock.adjust("5 seconds")
          const a2 = yield* member("a2", log, { subscription: staticMember })
          const after = yield* kafka.awaitStable("g")
          const a2Id = (yield* a2.session!.memberId)!
          expect(a2Id).not.toBe(aId)
          expect([...a2.owned].sort()).toEqual(aOwned)
          expect([...b.owned].sort()).toEqual(bOwned)
          expect(after.generation).toBe(before.generation)
          expect(after.members.map((m) => m.memberId).sort()).toEqual([a2Id, (yield* b.session!.memberId)!].sort())
          // b saw nothing at all; a2 one assignment of exactly a's partitions.
          expect(log.slice(mark)).toEqual([{ member: "a2", type: "assigned", partitions: aOwned }])
          // A second process with the same instance id is refused while a2 holds it.
          const refused = yield* Effect.flip(member("a3", log, { subscription: staticMember }))
          expect(refused.message).toMatch(/unreleased instance id host-a/)

          // Away longer than its session timeout, it is out and its partitions move.
          yield* a2.leave
          yield* TestClock.adjust("10 seconds")
          yield* eventually(() => b.owned.size === 4, "b takes a's partitions after a's session expired")
          const expired = yield* kafka.awaitStable("g")
          expect(expired.generation).toBeGreaterThan(before.generation)
          expect(log.filter((e) => e.type === "revoking" || e.type === "lost")).toEqual([])
        }),
        kip848
      )
  )

  it.scoped(
    "G11 G2 (simulated, consumer protocol, engine) a handler on a partition that stays runs on through a member joining, is never interrupted, and its offset is committed by the same owner",
    () =>
      provide(
        Effect.gen(function* () {
          const kafka = yield* clusterWithTopic("t", 2)
          const settings = yield* ConsumerSettings.make({
            groupId: "g",
            commitInterval: "100 millis",
            revocation: ConsumerSettings.drain("30 seconds")
          })
          const started = yield* Deferred.make<number>()
          const release = yield* Deferred.make<void>()
          let interrupted = 0
          const handled: Array<string> = []
          const handler = (record: { readonly partition: number; readonly offset: number }) =>
            Effect.gen(function* () {
              if (record.offset === 0) {
                yield* Deferred.succeed(started, record.partition)
                yield* Deferred.await(release)
              }
              handled.push(`${record.partition}@${record.offset}`)
            }).pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted++)))
          const first = yield* Consumer.make(settings)
          yield* Effect.forkScoped(first.run({ topics: ["t"], handler }))
          yield* kafka.awaitStable("g")
          const firstId = (yield* kafka.group("g"))!.members[0]!.memberId
          // One record on each partition: the one the first member will keep holds its handler.
          yield* kafka.produce(numbered("t", 1, 2).map((r) => ({ ...r, partition: 0 })))
          yield* Deferred.await(started)

          const second = yield* Consumer.make(settings)
          yield* Effect.forkScoped(second.run({ topics: ["t"], handler: () => Effect.void }))
          const after = yield* kafka.awaitStable("g")
          everyPartitionOnce(after, "t", 2)
          // The first member kept partition 0 (its handler still runs) and gave up partition 1.
          expect(yield* kafka.ownerOf("t", 0, "g")).toBe(firstId)
          expect(interrupted).toBe(0)
          expect(handled).toEqual([])
          yield* Deferred.succeed(release, undefined)
          yield* eventually(() => handled.length === 1, "the held record finished")
          yield* TestClock.adjust("200 millis")
          yield* settle
          const commits = (yield* kafka.commitLog("g")).filter((e) => e.partition === 0)
          expect(commits.at(-1)?.memberId).toBe(firstId)
          expect(commits.at(-1)?.offset).toBe(1)
          expect(interrupted).toBe(0)
          const events = yield* kafka.groupEvents("g")
          expect(
            events.some(
              (e) =>
                e.memberId === firstId &&
                (e.type === "revoking" || e.type === "lost") &&
                e.partitions?.some((tp) => tp.partition === 0)
            )
          ).toBe(false)
        }),
        kip848
      )
  )
})
