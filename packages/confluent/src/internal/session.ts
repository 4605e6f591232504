/**
 * The group session the engine holds: explicit commits, pause and resume (its backpressure),
 * and closing the client.
 *
 * Each checks the member's state first: librdkafka accepts a commit for a partition this
 * member does not own (the broker checks only the generation or epoch), and a pause of one
 * it was never assigned.
 */
import type { OffsetAndMetadata } from "@sluice/core/ConsumerDriver"
import * as KafkaError from "@sluice/core/KafkaError"
import * as TP from "@sluice/core/TopicPartition"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { toKafkaError } from "../ConfluentError.js"
import { type Commits, timedOut } from "./commits.js"
import { flushHeld } from "./delivery.js"
import type { Member, Owned } from "./member.js"
import type { NativeConsumer, NativeError, NativeTopicPartition } from "./native.js"

const refuse = (message: string) =>
  Effect.fail(KafkaError.make({ reason: "rebalance", operation: "ConfluentDriver.commit", message }))

export const commit =
  (member: Member, commits: Commits, serial: Effect.Semaphore) =>
  (offsets: ReadonlyArray<OffsetAndMetadata>): Effect.Effect<void, KafkaError.KafkaError> =>
    Effect.suspend(() => {
      if (offsets.length === 0) return Effect.void
      if (member.closing) return refuse("the session is closed")
      for (const offset of offsets) {
        const owned = member.owned.get(TP.key(offset))
        if (owned === undefined) {
          return refuse(`${TP.format(offset)} is not owned by this member (revoked, lost or never assigned)`)
        }
        if (owned.lost) return refuse(`${TP.format(offset)} was lost (the member's session expired or was fenced)`)
      }
      const keys = offsets.map((o) => TP.key(o))
      const request: Array<NativeTopicPartition> = offsets.map((o) => ({
        topic: o.topic,
        partition: o.partition,
        offset: o.offset,
        metadata: o.metadata ?? null
      }))
      const timeout = member.config.requestTimeout
      // Waits for the answer until the request timeout, which `expireCommits` enforces.
      // The deadline is read from the `Clock`, as `expireCommits` reads the time it checks it at.
      const sent = Effect.clockWith((clock) =>
        Effect.async<void, KafkaError.KafkaError>((resume) => {
          const settle = (error: NativeError | null) => {
            stop()
            if (error === timedOut) {
              resume(
                Effect.fail(
                  KafkaError.make({
                    reason: "timeout",
                    operation: "ConfluentDriver.commit",
                    message: `no answer within ${Duration.format(timeout)}`,
                    retriable: true
                  })
                )
              )
            } else if (error) resume(Effect.fail(toKafkaError(error, "ConfluentDriver.commit", { commit: true })))
            else resume(Effect.void)
          }
          const expected = commits.expect(request, settle, clock.unsafeCurrentTimeMillis() + Duration.toMillis(timeout))
          // A loss of a partition it names ends the wait: the broker will refuse the commit.
          const onLoss = (lost: ReadonlySet<string>) => {
            if (!keys.some((key) => lost.has(key))) return
            stop()
            resume(refuse("a partition of this commit was lost while it waited for the broker"))
          }
          const stop = () => {
            expected()
            member.commitsInFlight.delete(onLoss)
          }
          member.commitsInFlight.add(onLoss)
          try {
            member.consumer.commit(request)
          } catch (error) {
            stop()
            resume(Effect.fail(toKafkaError(error, "ConfluentDriver.commit", { commit: true })))
          }
          return Effect.sync(stop)
        })
      )
      return serial.withPermits(1)(sent)
    }).pipe(
      Effect.withSpan("ConfluentDriver.commit", {
        attributes: { partitions: offsets.length },
        captureStackTrace: false
      })
    )

/**
 * Ends the wait of every commit that got no answer within the request timeout (`Commits.expire`),
 * checked every tenth of it (every second at most, every 10 ms at least): one timer for the
 * session instead of a timeout around each commit.
 */
export const expireCommits = (commits: Commits, timeout: Duration.Duration): Effect.Effect<never> => {
  const period = Duration.millis(Math.min(1000, Math.max(10, Duration.toMillis(timeout) / 10)))
  return Effect.forever(
    Effect.zipRight(
      Effect.sleep(period),
      Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => commits.expire(now)))
    )
  )
}

/** Pauses partitions: their records are held from now on (see `Owned.stopped` for librdkafka's pause). */
export const pause =
  (member: Member) =>
  (partitions: ReadonlyArray<TP.TopicPartition>): Effect.Effect<void> =>
    Effect.sync(() => {
      for (const tp of partitions) {
        const o = member.owned.get(TP.key(tp))
        if (o !== undefined && o.status !== "revoking") o.paused = true
      }
    })

/**
 * Resumes partitions. Records held back while a partition was paused go first, in the
 * session's scope under the member's lock; librdkafka fetches it again only once they are
 * all delivered (it fetches from after the last record it handed over).
 */
export const resume =
  (member: Member) =>
  (partitions: ReadonlyArray<TP.TopicPartition>): Effect.Effect<void> =>
    Effect.suspend(() => {
      const later: Array<Owned> = []
      for (const tp of partitions) {
        const o = member.owned.get(TP.key(tp))
        if (o === undefined || !o.paused) continue
        o.paused = false
        if (o.held.length === 0) member.fetching(o, true)
        else later.push(o)
      }
      if (later.length === 0) return Effect.void
      const flush = member.lock.withPermits(1)(flushHeld(member, later))
      return Effect.asVoid(Effect.forkIn(flush, member.scope))
    })

/**
 * Disconnects `consumer`, one of a member's clients, giving up after `timeout`; a failure is
 * logged as `what` failing, never raised.
 */
export const disconnect = (consumer: NativeConsumer, what: string, timeout: Duration.Duration): Effect.Effect<void> =>
  Effect.async<void, KafkaError.KafkaError>((resume) => {
    try {
      consumer.disconnect((error) =>
        resume(error ? Effect.fail(toKafkaError(error, "ConfluentDriver.disconnect")) : Effect.void)
      )
    } catch (error) {
      resume(Effect.fail(toKafkaError(error, "ConfluentDriver.disconnect")))
    }
  }).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () =>
        KafkaError.make({ reason: "timeout", operation: "ConfluentDriver.disconnect", message: "disconnect hung" })
    }),
    Effect.catchAll((error) => Effect.logWarning(`Sluice: ${what} failed`, error))
  )

/** Closes the client: librdkafka revokes what is left (the rebalance handler acknowledges it) and leaves the group. */
export const close = (member: Member): Effect.Effect<void> =>
  Effect.suspend(() => {
    member.closing = true
    // A static member does not leave; any member waits for its last revocation to be acknowledged.
    const timeout = Duration.sum(member.config.requestTimeout, member.subscription.rebalanceTimeout)
    return disconnect(member.consumer, "librdkafka consumer disconnect", timeout)
  })
