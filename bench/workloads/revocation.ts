/**
 * Workload 5: revocation on the real broker. Member A (Sluice over kafkajs, partition mode,
 * a handler that takes `handlerMs`) consumes a 12-partition backlog; once it is busy, member
 * B joins the group. Measured: from B starting to join to B's first record, i.e. A noticing
 * the rebalance, revoking (draining or interrupting its in-flight records, committing),
 * rejoining, the assignment, and B fetching. A's own revocation time (Revoked events) is
 * reported too.
 *
 * `drain` and `interrupt` run alternately, each with a fresh group.
 */
import * as Consumer from "@sluice/core/Consumer"
import type { ConsumerEvent } from "@sluice/core/ConsumerEvent"
import * as ConsumerSettings from "@sluice/core/ConsumerSettings"
import * as KafkaJsDriver from "@sluice/kafkajs/KafkaJsDriver"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import { args, brokers, die, emit, now } from "../lib/common.js"
import { ensureTopic, revocationTopic } from "../lib/kafka.js"

export type Strategy = "drain" | "interrupt"

export interface RevocationArgs {
  readonly rounds: number
  readonly warmupRounds: number
  readonly handlerMs: number
  /** The members' heartbeat interval: how soon A hears of the rebalance. */
  readonly heartbeatMs: number
}

export interface RevocationRun {
  readonly round: number
  readonly strategy: Strategy
  /** B's join started → B's first record began. */
  readonly ms: number
  /** A's longest revocation of the round (Revoked.millis): stop, drain or interrupt, commit. */
  readonly revokeMs: number
  /** Whether A had to interrupt in-flight work. */
  readonly interrupted: boolean
}

export interface RevocationResult {
  readonly runs: ReadonlyArray<RevocationRun>
}

const topic = revocationTopic.topic

const settings = (groupId: string, strategy: Strategy, heartbeatMs: number) =>
  ConsumerSettings.make({
    groupId,
    revocation: strategy === "drain" ? ConsumerSettings.drain("10 seconds") : ConsumerSettings.interrupt,
    heartbeatInterval: heartbeatMs
  })

const runOnce = (a: RevocationArgs, strategy: Strategy, round: number) =>
  Effect.gen(function* () {
    const groupId = `sluice-bench-revocation-${strategy}-${round}-${Date.now()}`
    const consumerA = yield* Consumer.make(yield* settings(groupId, strategy, a.heartbeatMs))
    const consumerB = yield* Consumer.make(yield* settings(groupId, strategy, a.heartbeatMs))
    const eventsA = yield* consumerA.subscribeEvents
    let handledA = 0
    const busy = yield* Deferred.make<void>()
    const fiberA = yield* Effect.fork(
      consumerA.run({
        topics: [topic],
        handler: () =>
          Effect.zipRight(
            Effect.sleep(a.handlerMs),
            Effect.sync(() => {
              // Busy: every partition has had records started and finished.
              if (++handledA === revocationTopic.counts.length * 2) Deferred.unsafeDone(busy, Effect.void)
            })
          )
      })
    )
    yield* Deferred.await(busy).pipe(Effect.timeout("60 seconds"))
    // Let A's work settle into its steady state (partitions mid-record).
    yield* Effect.sleep(a.handlerMs * 2.5)
    const firstB = yield* Deferred.make<number>()
    const joined = now()
    const fiberB = yield* Effect.fork(
      consumerB.run({
        topics: [topic],
        handler: () => Effect.zipRight(Deferred.succeed(firstB, now()), Effect.sleep(a.handlerMs))
      })
    )
    const first = yield* Deferred.await(firstB).pipe(Effect.timeout("60 seconds"))
    const events = yield* Queue.takeAll(eventsA)
    let revokeMs = 0
    let interrupted = false
    for (const event of events as Iterable<ConsumerEvent>) {
      if (event._tag === "Revoked") {
        revokeMs = Math.max(revokeMs, event.millis)
        interrupted = interrupted || event.interrupted
      }
    }
    yield* Fiber.interruptAll([fiberA, fiberB])
    return { round, strategy, ms: first - joined, revokeMs, interrupted } satisfies RevocationRun
  }).pipe(Effect.scoped)

const program = (a: RevocationArgs) =>
  Effect.gen(function* () {
    yield* Effect.tryPromise(() => ensureTopic(revocationTopic, (line) => process.stderr.write(`${line}\n`)))
    const runs: Array<RevocationRun> = []
    for (let round = -a.warmupRounds + 1; round <= a.rounds; round++) {
      const order: ReadonlyArray<Strategy> = round % 2 === 0 ? ["interrupt", "drain"] : ["drain", "interrupt"]
      for (const strategy of order) {
        const run = yield* runOnce(a, strategy, round)
        if (round > 0) runs.push(run)
        process.stderr.write(
          `revocation ${round > 0 ? `round ${round}` : "warm-up"} ${strategy}: ${run.ms.toFixed(0)} ms to B's first record, A revoked in ${run.revokeMs} ms\n`
        )
      }
    }
    return { runs } satisfies RevocationResult
  }).pipe(Effect.provide(KafkaJsDriver.layer({ brokers: [...brokers], clientId: "sluice-bench-revocation" })))

Effect.runPromise(program(args<RevocationArgs>())).then(emit, die)
