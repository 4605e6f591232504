/**
 * What kafkajs reports through its consumer events, turned into the member's state and the
 * listener's `onAssigned` / `onLost`: a join assigns, a crash loses everything, a batch
 * kafkajs filtered out moves the position, a commit event proves a commit.
 *
 * These are the only signals kafkajs gives about the group besides the gate
 * (`revocation.ts`); each handler queues its listener calls behind those already reported.
 *
 * File:line references are to kafkajs 2.2.4 `src/`.
 */
import type { PartitionAssignment } from "@sluice/core/ConsumerDriver"
import * as TP from "@sluice/core/TopicPartition"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { Consumer, ConsumerCrashEvent, ConsumerEndBatchProcessEvent, ConsumerGroupJoinEvent } from "kafkajs"
import { toKafkaError } from "../KafkaJsError.js"
import { fetchCommitted } from "./committed.js"
import type { Member } from "./member.js"
import * as Position from "./position.js"

/** Subscribes the member to `consumer`'s events; the consumer becomes the member's. */
export const attach = (member: Member, consumer: Consumer): void => {
  member.consumer = consumer
  consumer.on(consumer.events.GROUP_JOIN, onGroupJoin(member))
  consumer.on(consumer.events.CRASH, onCrash(member))
  consumer.on(consumer.events.END_BATCH_PROCESS, onBatchEnd(member))
  consumer.on(consumer.events.COMMIT_OFFSETS, () => {
    member.commitsSeen++
  })
  consumer.on(consumer.events.FETCH, () => {
    member.lastPoll = Date.now()
  })
  consumer.on(consumer.events.HEARTBEAT, () => {
    member.lastHeartbeat = Date.now()
  })
}

/**
 * A join completed (emitted at `consumerGroup.js:353`, before `joinAndSync` returns and
 * so before the first fetch of the generation). The committed offsets are read with their
 * metadata, which kafkajs's own offset fetch drops, and the listener hears `onAssigned`
 * before any `onRecords` of the generation: `eachBatch` queues behind this.
 */
const onGroupJoin =
  (member: Member) =>
  (event: ConsumerGroupJoinEvent): void => {
    const { memberAssignment, memberId } = event.payload
    const assigned: Array<TP.TopicPartition> = []
    for (const topic of Object.keys(memberAssignment)) {
      for (const partition of memberAssignment[topic] ?? []) assigned.push(TP.make(topic, partition))
    }
    assigned.sort(TP.order)
    void member.serial(async () => {
      member.memberId = memberId
      member.fenced = false
      member.coordinatorMoved = false
      member.crashed = undefined
      member.restarts = 0
      if (member.owned.size > 0) {
        // Every rejoin passes the gate, which empties `owned`; a join it did not see means
        // the old generation is gone without us.
        const stale = [...member.owned.values()]
        member.release(stale)
        await member.callListener("onLost", member.listener.onLost(stale.map((o) => o.topicPartition)), stale.length)
      }
      if (member.closed) return
      const committed = await member.run(
        Effect.either(fetchCommitted(member.admin, member.subscription.groupId, assigned))
      )
      if (Either.isLeft(committed)) {
        // Unowned, these would be fetched and dropped in a loop until the session closes.
        member.control("pause", assigned)
        await member.fail(committed.left)
        return
      }
      const given: Array<PartitionAssignment> = assigned.map((tp) => ({
        topicPartition: tp,
        committed: committed.right.get(TP.key(tp))
      }))
      const assignments = await startPositions(member, given)
      if (assignments === undefined) return
      for (const assignment of assignments) {
        member.owned.set(TP.key(assignment.topicPartition), {
          topicPartition: assignment.topicPartition,
          status: "owned",
          position: Position.make(assignment.committed?.offset)
        })
      }
      await member.callListener("onAssigned", member.listener.onAssigned(assignments), assignments.length)
    })
  }

/**
 * Where an external offset store starts the partitions (the listener's `positions`, G10):
 * kafkajs is told to seek those whose start differs from the group's committed offset. Its
 * seek only queues the offset for the next fetch (`consumerGroup.js:395-397, 657-676`;
 * without auto-commit nothing is committed, `offsetManager/index.js:166-180`), and a batch
 * fetched before it does not line up with the position and is dropped (`position.ts`).
 * `undefined` when the positions could not be read: the session failed.
 */
const startPositions = async (
  member: Member,
  given: ReadonlyArray<PartitionAssignment>
): Promise<ReadonlyArray<PartitionAssignment> | undefined> => {
  const positions = member.listener.positions
  if (positions === undefined || given.length === 0) return given
  const started = await member.run(Effect.either(positions(given)))
  if (Either.isLeft(started)) {
    member.control(
      "pause",
      given.map((a) => a.topicPartition)
    )
    await member.fail(started.left)
    return undefined
  }
  const committed = new Map(given.map((a) => [TP.key(a.topicPartition), a.committed?.offset]))
  for (const { committed: start, topicPartition: tp } of started.right) {
    if (start === undefined || start.offset === committed.get(TP.key(tp))) continue
    try {
      member.consumer?.seek({ topic: tp.topic, partition: tp.partition, offset: String(start.offset) })
    } catch (error) {
      await member.fail(toKafkaError(error, "KafkaJsDriver.seek"))
      return undefined
    }
  }
  return started.right
}

/**
 * kafkajs crashed: it already left the group and disconnected (`consumer/index.js:246-302`),
 * so whatever this member owned is lost. With `restart`, kafkajs joins again as a new
 * member after a back-off and the next GROUP_JOIN assigns afresh; without, the session
 * fails.
 */
const onCrash =
  (member: Member) =>
  (event: ConsumerCrashEvent): void => {
    const { error, restart } = event.payload
    member.crashed = { error, restart }
    // One line a reader of the logs can act on (kafkajs's own say "Crash" and "Restarting"):
    // during a cluster outage this repeats with kafkajs's bounded back-off, at most
    // `maxRestarts` times between two successful joins.
    void member.run(
      Effect.logWarning(
        restart && !member.closed
          ? `Sluice: the kafkajs consumer of group ${member.subscription.groupId} lost the cluster (${error.message}); its partitions are lost (not committed), rejoining: restart ${member.restarts} of at most ${member.options.maxRestarts}`
          : `Sluice: the kafkajs consumer of group ${member.subscription.groupId} lost the cluster (${error.message}) and does not restart${member.closed ? " (closing)" : ` after ${member.options.maxRestarts} restarts`}`
      )
    )
    void member.serial(async () => {
      member.generation = undefined
      member.memberId = undefined
      // The crashed ConsumerGroup took its pause state with it.
      const lost = [...member.owned.values()]
      for (const o of lost) member.owned.delete(TP.key(o.topicPartition))
      member.paused.clear()
      if (lost.length > 0) {
        await member.callListener("onLost", member.listener.onLost(lost.map((o) => o.topicPartition)), lost.length)
      }
      if (!restart && !member.closed) await member.fail(toKafkaError(error, "KafkaJsDriver.consume"))
    })
  }

/** kafkajs resolved a batch it filtered out entirely (`runner.js:420-437`). */
const onBatchEnd =
  (member: Member) =>
  (event: ConsumerEndBatchProcessEvent): void => {
    const { batchSize, lastOffset, partition, topic } = event.payload
    if (batchSize !== 0) return
    const owned = member.owned.get(TP.key({ topic, partition }))
    if (owned !== undefined) Position.skipped(owned.position, Number(lastOffset))
  }

/**
 * kafkajs restarts a crashed consumer when the error is retriable (`consumer/index.js:267-301`).
 * A restart joins as a new member; the crash already reported the partitions lost.
 * Restarts are bounded so that a cluster gone for good fails the session, and never
 * happen once the scope is closing.
 */
export const restartOnFailure = (member: Member) => async (): Promise<boolean> => {
  if (member.closed || member.restarts >= member.options.maxRestarts) return false
  member.restarts++
  return true
}
