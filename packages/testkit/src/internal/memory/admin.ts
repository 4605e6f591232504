/**
 * The admin port on the simulated cluster: the primitives `Admin.make` builds the service
 * from, answered from the log, the groups and the committed offsets.
 *
 * What the simulated cluster cannot say as a broker would: it has no brokers, so a partition
 * has no leader and no replicas and a topic's replication factor and configs are accepted and
 * dropped; it never removes records, so every partition starts at offset 0. Timestamps are
 * the records' own (the producer's, or the `Clock` at produce), so a reset to a timestamp
 * finds what a broker's time index would.
 *
 * Owns: nothing. May touch: the log (topics created and deleted) and the committed offsets
 * (a reset, a deleted topic's offsets), both through their own methods.
 */
import * as Admin from "@sluice/core/Admin"
import * as TP from "@sluice/core/TopicPartition"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { Cluster } from "./cluster.js"
import { snapshot } from "./group.js"
import type { PartitionLog } from "./log.js"

/**
 * Partitions of one topic at most: a broker would refuse far fewer on one node, and a typo
 * of a few more digits must not allocate millions of logs.
 */
export const maxPartitions = 100_000

const fail = (operation: string, reason: Admin.AdminErrorReason, message: string, field?: string) =>
  Effect.fail(Admin.makeError({ operation: `MemoryKafka.${operation}`, reason, message, field }))

const unknownTopic = (operation: string, topic: string) => fail(operation, "UnknownTopic", `unknown topic "${topic}"`)

/** The first offset whose record's timestamp is at or after `timestamp`, else the end. */
const offsetForTimestamp = (log: PartitionLog, timestamp: number): number => {
  const index = log.records.findIndex((record) => record.timestamp >= timestamp)
  return index < 0 ? log.records.length : index
}

const offsetOf = (log: PartitionLog, query: Admin.OffsetQuery): number =>
  query === "earliest" ? 0 : query === "latest" ? log.records.length : offsetForTimestamp(log, query.timestamp)

const groupState = (group: ReturnType<typeof snapshot>): Admin.GroupState =>
  // A group whose last member left asks for a rebalance that has nobody to run: it is empty.
  group.members.length === 0 ? "Empty" : group.state === "rebalancing" ? "Rebalancing" : "Stable"

export const primitives = (cluster: Cluster): Admin.Primitives => {
  const { commits, coordinator, logs } = cluster

  const hasMembers = (groupId: string): boolean => (coordinator.groups.get(groupId)?.members.size ?? 0) > 0

  return {
    listTopics: Effect.sync(() => Array.from(logs.topics.keys())),

    createTopics: (topics) =>
      Effect.suspend(() => {
        for (const t of topics) {
          if (logs.topics.has(t.name)) return fail("createTopics", "TopicExists", `topic "${t.name}" exists already`)
          if ((t.partitions ?? 0) > maxPartitions) {
            return fail(
              "createTopics",
              "InvalidArgument",
              `"${t.name}": the simulated cluster holds at most ${maxPartitions} partitions per topic, got ${t.partitions}`,
              "partitions"
            )
          }
        }
        for (const t of topics) {
          const error = logs.createTopic(t.name, t.partitions ?? cluster.options.partitions)
          if (error !== undefined) return fail("createTopics", "InvalidArgument", error.message)
        }
        return Effect.void
      }),

    deleteTopics: (topics) =>
      Effect.suspend(() => {
        const missing = topics.find((topic) => !logs.topics.has(topic))
        if (missing !== undefined) return unknownTopic("deleteTopics", missing)
        for (const topic of topics) {
          logs.deleteTopic(topic)
          commits.forgetTopic(topic)
        }
        return Effect.void
      }),

    describeTopics: (topics) =>
      Effect.forEach(topics, (name) =>
        Effect.suspend(() => {
          const topic = logs.topics.get(name)
          if (topic === undefined) return unknownTopic("describeTopics", name)
          return Effect.succeed({
            name,
            partitions: topic.partitions.map((log) => ({
              partition: log.partition,
              leader: undefined,
              replicas: [],
              isr: []
            }))
          })
        })
      ),

    listOffsets: (name, query) =>
      Effect.suspend(() => {
        const topic = logs.topics.get(name)
        if (topic === undefined) return unknownTopic("listOffsets", name)
        return Effect.succeed(new Map(topic.partitions.map((log) => [log.partition, offsetOf(log, query)])))
      }),

    listGroups: Effect.sync(() => Array.from(new Set([...coordinator.groups.keys(), ...commits.groupIds()]))),

    describeGroup: (groupId) =>
      Effect.sync((): Admin.GroupInfo | undefined => {
        const group = coordinator.groups.get(groupId)
        if (group === undefined)
          return commits.ofGroup(groupId) === undefined ? undefined : { state: "Empty", members: [] }
        const now = snapshot(group)
        return {
          state: groupState(now),
          members: now.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId, assignment: m.assigned }))
        }
      }),

    committedOffsets: (groupId) =>
      Effect.sync(() =>
        Array.from(commits.ofGroup(groupId) ?? [], ([key, committed]) => ({
          ...TP.fromKey(key),
          offset: committed.offset
        }))
      ),

    commitOffsets: (groupId, offsets) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        if (hasMembers(groupId)) {
          return fail("commitOffsets", "GroupNotEmpty", `group "${groupId}" has members: only they may commit`)
        }
        const missing = offsets.find((o) => logs.log(o.topic, o.partition) === undefined)
        if (missing !== undefined)
          return fail("commitOffsets", "UnknownTopic", `unknown partition ${TP.format(missing)}`)
        commits.commitFromOutside(groupId, offsets, now)
        return Effect.void
      })
  }
}
