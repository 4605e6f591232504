/**
 * The group session the engine holds: pause and resume (its backpressure), explicit
 * commits, and closing the kafkajs consumer.
 *
 * These are the calls the engine makes into kafkajs; each checks the member's state first,
 * because kafkajs accepts a pause of a partition it does not own and silently skips a commit
 * when its runner is not running.
 *
 * File:line references are to kafkajs 2.2.4 `src/`.
 */
import type { OffsetAndMetadata } from "@sluice/core/ConsumerDriver"
import * as KafkaError from "@sluice/core/KafkaError"
import * as TP from "@sluice/core/TopicPartition"
import * as Effect from "effect/Effect"
import { isFenced, toKafkaError } from "../KafkaJsError.js"
import { chain, str } from "./errorChain.js"
import type { Member } from "./member.js"

export const pause =
  (member: Member) =>
  (partitions: ReadonlyArray<TP.TopicPartition>): Effect.Effect<void> =>
    Effect.sync(() => {
      // Only owned partitions: kafkajs keeps pause state across rebalances, and a stray
      // pause would silence a partition assigned later.
      const owned = partitions.filter((tp) => member.owned.has(TP.key(tp)))
      for (const tp of owned) member.paused.add(TP.key(tp))
      member.control("pause", owned)
    })

export const resume =
  (member: Member) =>
  (partitions: ReadonlyArray<TP.TopicPartition>): Effect.Effect<void> =>
    Effect.sync(() => {
      for (const tp of partitions) member.paused.delete(TP.key(tp))
      member.control("resume", partitions)
    })

export const commit =
  (member: Member) =>
  (offsets: ReadonlyArray<OffsetAndMetadata>): Effect.Effect<void, KafkaError.KafkaError> =>
    Effect.suspend(() => {
      if (offsets.length === 0) return Effect.void
      const consumer = member.consumer
      const refuse = (message: string) =>
        Effect.fail(KafkaError.make({ reason: "rebalance", operation: "KafkaJsDriver.commit", message }))
      if (member.closed || consumer === undefined) return refuse("the session is closed")
      if (member.crashed !== undefined) return refuse("kafkajs crashed and left the group")
      // Refused at once rather than sent to the old coordinator again: a revocation's final
      // commits would each wait out kafkajs's retries (seen in failover test F3, a paused
      // coordinator resumed: 25 s per partition, past the rebalance timeout).
      if (member.coordinatorMoved) return refuse("the group coordinator moved; commits resume once the member rejoins")
      for (const offset of offsets) {
        if (!member.owned.has(TP.key(offset))) {
          return refuse(`${TP.format(offset)} is not owned by this member (revoked, lost or never assigned)`)
        }
      }
      const request = offsets.map((o) => ({
        topic: o.topic,
        partition: o.partition,
        offset: String(o.offset),
        metadata: o.metadata ?? null
      }))
      const before = member.commitsSeen
      return Effect.tryPromise({
        try: () => consumer.commitOffsets(request),
        catch: (error) =>
          movedCoordinator(error)
            ? KafkaError.make({
                reason: "rebalance",
                operation: "KafkaJsDriver.commit",
                message:
                  "KafkaJsDriver.commit: the group coordinator moved (NOT_COORDINATOR_FOR_GROUP); kafkajs commits to the old one until the member rejoins",
                cause: error
              })
            : toKafkaError(error, "KafkaJsDriver.commit", { commit: true })
      }).pipe(
        Effect.tapError((error) =>
          Effect.sync(() => {
            if (isFenced(error.cause)) member.fenced = true
            if (movedCoordinator(error.cause)) member.coordinatorMoved = true
          })
        ),
        Effect.flatMap(() =>
          // kafkajs returns without committing when its runner is not running
          // (`runner.js:476-484, 490-498`); only the COMMIT_OFFSETS event proves a commit.
          member.commitsSeen === before ? refuse("kafkajs is not running; nothing was committed") : Effect.void
        )
      )
    }).pipe(
      Effect.withSpan("KafkaJsDriver.commit", { attributes: { partitions: offsets.length }, captureStackTrace: false })
    )

/** kafkajs's answer when the broker it commits to is no longer the group's coordinator. */
const movedCoordinator = (error: unknown): boolean =>
  chain(error).some((e) => str(e.type) === "NOT_COORDINATOR_FOR_GROUP")

/** Closes the member: no join, delivery or commit after this. */
export const close = (member: Member): Effect.Effect<void> =>
  Effect.suspend(() => {
    member.closed = true
    const consumer = member.consumer
    if (consumer === undefined) return Effect.void
    // Stops the runner after the batches in hand, leaves the group and closes the
    // sockets (`consumer/index.js:96-131`, `runner.js:173-190`); nothing is committed.
    return Effect.tryPromise({
      try: () => consumer.disconnect(),
      catch: (error) => toKafkaError(error, "KafkaJsDriver.disconnect")
    }).pipe(Effect.catchAll((error) => Effect.logWarning("Sluice: kafkajs consumer disconnect failed", error)))
  })
