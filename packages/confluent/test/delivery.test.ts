import { describe, expect, it } from "@effect/vitest"
import type { GroupListener } from "@sluice/core/ConsumerDriver"
import type { RawRecord } from "@sluice/core/ConsumerRecord"
import type * as KafkaError from "@sluice/core/KafkaError"
import * as TP from "@sluice/core/TopicPartition"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as ConfluentConfig from "../src/ConfluentConfig.js"
import * as ConfluentDriver from "../src/ConfluentDriver.js"
import { Commits } from "../src/internal/commits.js"
import { handOver } from "../src/internal/delivery.js"
import { Member, type Owned } from "../src/internal/member.js"
import type { NativeConsumer } from "../src/internal/native.js"
import * as Session from "../src/internal/session.js"
import { Watchdog } from "../src/internal/watchdog.js"
import { subscription as fixture } from "./support.js"

const tp = TP.make("t", 0)

const record = (offset: number, bytes = 10): RawRecord => ({
  topic: "t",
  partition: 0,
  offset,
  key: null,
  value: new Uint8Array(bytes),
  headers: [],
  timestamp: 0
})

/** A member over a consumer that only records pause and resume, and a listener that records deliveries. */
const makeMember = (
  maxBytesPerPartition: number,
  onRecords: (records: ReadonlyArray<RawRecord>) => Effect.Effect<void>
) =>
  Effect.gen(function* () {
    const calls: Array<string> = []
    const consumer = {
      pause: (list: ReadonlyArray<TP.TopicPartition>) => calls.push(`pause ${list.map(TP.format).join(",")}`),
      resume: (list: ReadonlyArray<TP.TopicPartition>) => calls.push(`resume ${list.map(TP.format).join(",")}`),
      // Queued, never answered: a coordinator that is gone.
      commit: (list: ReadonlyArray<TP.TopicPartition>) => calls.push(`commit ${list.map(TP.format).join(",")}`)
    } as unknown as NativeConsumer
    const subscription = fixture({ maxBytesPerPartition })
    const listener: GroupListener = {
      onAssigned: () => Effect.void,
      onRevoked: () => Effect.void,
      onLost: () => Effect.void,
      onRecords: (_, records) => onRecords(records)
    }
    const member = new Member(
      consumer,
      ConfluentConfig.resolve({ brokers: ["a:1"] }),
      subscription,
      yield* ConfluentDriver.resolveOptions(),
      listener,
      yield* Deferred.make<never, KafkaError.KafkaError>(),
      yield* Effect.makeSemaphore(1),
      yield* Effect.scope,
      new Watchdog(Number.POSITIVE_INFINITY, "classic", 0)
    )
    const owned: Owned = {
      topicPartition: tp,
      status: "owned",
      next: 0,
      paused: false,
      logEnd: undefined,
      held: [],
      heldBytes: 0,
      stopped: false,
      lost: false
    }
    member.owned.set(TP.key(tp), owned)
    return { member, owned, calls }
  })

describe("delivery", () => {
  it.scoped("hands records over in slices no bigger than a fetch of maxBytesPerPartition", () =>
    Effect.gen(function* () {
      const slices: Array<Array<number>> = []
      // 10 bytes of value + 70 of framing: two records per 200-byte slice.
      const { member, owned } = yield* makeMember(200, (records) =>
        Effect.sync(() => slices.push(records.map((r) => r.offset)))
      )
      yield* handOver(
        member,
        owned,
        [0, 1, 2, 3, 4].map((o) => record(o))
      )
      expect(slices).toEqual([[0, 1], [2, 3], [4]])
      // A record bigger than the limit still goes, alone.
      yield* handOver(member, owned, [record(5, 1000)])
      expect(slices.at(-1)).toEqual([5])
      // Headers count too: 80 bytes plus a 3-byte key and 20 bytes of value leave room for one.
      const withHeader = (offset: number): RawRecord => ({
        ...record(offset),
        headers: [{ key: "abc", value: new Uint8Array(20) }]
      })
      yield* handOver(member, owned, [6, 7].map(withHeader))
      expect(slices.slice(-2)).toEqual([[6], [7]])
    })
  )

  it.scoped("a pause holds the rest; a resume delivers what was held before librdkafka fetches again", () =>
    Effect.gen(function* () {
      const delivered: Array<number> = []
      let member!: Member
      const made = yield* makeMember(100, (records) =>
        Effect.gen(function* () {
          for (const r of records) delivered.push(r.offset)
          // The engine's buffer is full after offset 1.
          if (delivered.length === 2) yield* Session.pause(member)([tp])
        })
      )
      member = made.member
      yield* handOver(
        member,
        made.owned,
        [0, 1, 2, 3].map((o) => record(o))
      )
      expect(delivered).toEqual([0, 1])
      expect(made.owned.held.map((r) => r.offset)).toEqual([2, 3])
      expect(made.calls).toEqual(["pause t-0"])
      // More records of the paused partition that a poll in flight returned: held behind.
      yield* handOver(member, made.owned, [record(4)])
      expect(made.owned.held.map((r) => r.offset)).toEqual([2, 3, 4])
      yield* Session.resume(member)([tp])
      yield* Effect.yieldNow()
      yield* member.lock.withPermits(1)(Effect.void)
      expect(delivered).toEqual([0, 1, 2, 3, 4])
      expect(made.owned.held).toEqual([])
      expect(made.calls).toEqual(["pause t-0", "resume t-0"])
    })
  )

  it.scoped(
    "F5 a loss ends a commit's wait for a broker that does not answer, and no commit of a lost partition starts",
    () =>
      Effect.gen(function* () {
        const { member, owned, calls } = yield* makeMember(100, () => Effect.void)
        const commit = Session.commit(member, new Commits(), yield* Effect.makeSemaphore(1))
        const waiting = yield* Effect.fork(Effect.flip(commit([{ topic: "t", partition: 0, offset: 7 }])))
        for (let i = 0; i < 100 && calls.length === 0; i++) yield* Effect.yieldNow()
        expect(calls).toEqual(["commit t-0"])
        expect(waiting.unsafePoll()).toBeNull()
        // librdkafka declares the partition lost: the engine's committer must not wait out the
        // request timeout (10 s here) and its retries before the engine can handle the loss.
        member.lose([owned])
        const error = yield* Fiber.join(waiting)
        expect(error).toMatchObject({ _tag: "KafkaError", reason: "rebalance", retriable: false })
        expect(error.message).toContain("lost")
        const refused = yield* Effect.flip(commit([{ topic: "t", partition: 0, offset: 8 }]))
        expect(refused.reason).toBe("rebalance")
        expect(calls).toEqual(["commit t-0"])
        expect(member.commitsInFlight.size).toBe(0)
      })
  )
})
