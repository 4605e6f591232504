/**
 * The admin service built from a driver's primitives: what every driver must do alike —
 * checking input, refusing a call that names a missing (or, to create, an existing) topic
 * before changing anything, offsets and lag, and refusing to reset a group with members —
 * is written here once.
 */
import * as Effect from "effect/Effect"
import {
  type AdminError,
  type AdminService,
  type GroupOffset,
  internalTopics,
  makeError,
  type PartitionDescription,
  type Primitives,
  type ResetOffsets,
  type TopicPartitionOffset
} from "../../Admin.js"
import * as TP from "../../TopicPartition.js"
import * as input from "./input.js"

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`

const quoted = (names: ReadonlyArray<string>): string => names.map((name) => JSON.stringify(name)).join(", ")

export const make = (primitives: Primitives): AdminService => {
  const listTopics = Effect.map(primitives.listTopics, (names) =>
    names.filter((name) => !internalTopics.has(name)).sort(byName)
  )

  /** The named topics that exist and those that do not. */
  const existence = (names: ReadonlyArray<string>) =>
    Effect.map(primitives.listTopics, (all) => {
      const existing = new Set(all)
      return {
        present: names.filter((name) => existing.has(name)),
        missing: names.filter((name) => !existing.has(name))
      }
    })

  const unknownTopics = (operation: string, missing: ReadonlyArray<string>): AdminError =>
    makeError({
      reason: "UnknownTopic",
      operation,
      message: `unknown ${missing.length === 1 ? "topic" : "topics"} ${quoted(missing)}`
    })

  /** Fails with `UnknownTopic` unless every named topic exists. */
  const requireTopics = (operation: string, names: ReadonlyArray<string>) =>
    Effect.flatMap(existence(names), ({ missing }) =>
      missing.length === 0 ? Effect.void : Effect.fail(unknownTopics(operation, missing))
    )

  const createTopics = Effect.fn("Admin.createTopics")(function* (
    topics: Parameters<AdminService["createTopics"]>[0],
    options?: Parameters<AdminService["createTopics"]>[1]
  ) {
    const operation = "Admin.createTopics"
    yield* Effect.annotateCurrentSpan("topics", topics.map((t) => t.name).join(","))
    yield* input.newTopics(operation, topics)
    const { missing, present } = yield* existence(topics.map((t) => t.name))
    if (present.length > 0 && options?.ifNotExists !== true) {
      return yield* makeError({
        reason: "TopicExists",
        operation,
        message: `${quoted(present)} ${present.length === 1 ? "exists" : "exist"} already; nothing was created`
      })
    }
    const create = new Set(missing)
    const todo = topics.filter((t) => create.has(t.name))
    if (todo.length === 0) return
    const created = primitives.createTopics(todo)
    // Created by someone else since the check: what `ifNotExists` asked for all the same.
    yield* options?.ifNotExists === true
      ? Effect.catchIf(
          created,
          (e) => e.reason === "TopicExists",
          () => Effect.void
        )
      : created
  })

  const deleteTopics = Effect.fn("Admin.deleteTopics")(function* (
    topics: ReadonlyArray<string>,
    options?: Parameters<AdminService["deleteTopics"]>[1]
  ) {
    const operation = "Admin.deleteTopics"
    yield* Effect.annotateCurrentSpan("topics", topics.join(","))
    yield* input.topicNames(operation, topics)
    const { missing, present } = yield* existence([...new Set(topics)])
    if (missing.length > 0 && options?.ifExists !== true) return yield* unknownTopics(operation, missing)
    if (present.length > 0) yield* primitives.deleteTopics(present)
  })

  const describeTopics = Effect.fn("Admin.describeTopics")(function* (topics: ReadonlyArray<string>) {
    const operation = "Admin.describeTopics"
    yield* Effect.annotateCurrentSpan("topics", topics.join(","))
    yield* input.topicNames(operation, topics)
    yield* requireTopics(operation, topics)
    const infos = yield* primitives.describeTopics(topics)
    return yield* Effect.forEach(infos, (info) =>
      Effect.map(
        Effect.all([primitives.listOffsets(info.name, "earliest"), primitives.listOffsets(info.name, "latest")]),
        ([start, end]) => ({
          name: info.name,
          partitions: info.partitions.map(
            (p): PartitionDescription => ({
              ...p,
              startOffset: start.get(p.partition) ?? 0,
              endOffset: end.get(p.partition) ?? 0
            })
          )
        })
      )
    )
  })

  const describeGroup = Effect.fn("Admin.describeGroup")(function* (groupId: string) {
    const operation = "Admin.describeGroup"
    yield* Effect.annotateCurrentSpan("groupId", groupId)
    yield* input.groupId(operation, groupId)
    const group = yield* primitives.describeGroup(groupId)
    if (group === undefined) {
      return yield* makeError({
        reason: "UnknownGroup",
        operation,
        message: `group ${JSON.stringify(groupId)} has no members and no committed offsets`
      })
    }
    const committed = new Map((yield* primitives.committedOffsets(groupId)).map((o) => [TP.key(o), o.offset]))
    const topics = new Set<string>()
    for (const key of committed.keys()) topics.add(TP.fromKey(key).topic)
    for (const member of group.members) for (const tp of member.assignment) topics.add(tp.topic)
    // A deleted topic's offsets outlive it for a while on a broker: they have no end to lag behind.
    const { present } = yield* existence([...topics].sort(byName))
    const perTopic = yield* Effect.forEach(present, (topic) =>
      primitives.listOffsets(topic, "latest").pipe(
        Effect.map((ends) =>
          [...ends]
            .sort((a, b) => a[0] - b[0])
            .map(([partition, endOffset]): GroupOffset => {
              const offset = committed.get(TP.key({ topic, partition }))
              return {
                topic,
                partition,
                committed: offset,
                endOffset,
                lag: offset === undefined ? undefined : endOffset - offset
              }
            })
        ),
        Effect.catchIf(
          (e) => e.reason === "UnknownTopic",
          () => Effect.succeed([])
        )
      )
    )
    const offsets = perTopic.flat()
    return {
      groupId,
      state: group.state,
      members: [...group.members].sort((a, b) => byName(a.memberId, b.memberId)),
      offsets,
      lag: offsets.reduce((sum, o) => sum + (o.lag ?? 0), 0)
    }
  })

  /** The offsets a reset commits, checked against the partitions' bounds for explicit ones. */
  const targetOffsets = (operation: string, options: ResetOffsets) => {
    const { to, topic } = options
    const all = (offsets: ReadonlyMap<number, number>): Array<TopicPartitionOffset> =>
      [...offsets].sort((a, b) => a[0] - b[0]).map(([partition, offset]) => ({ topic, partition, offset }))
    switch (to._tag) {
      case "Earliest":
        return Effect.map(primitives.listOffsets(topic, "earliest"), all)
      case "Latest":
        return Effect.map(primitives.listOffsets(topic, "latest"), all)
      case "Timestamp":
        return Effect.map(primitives.listOffsets(topic, { timestamp: to.timestamp }), all)
      case "Offsets":
        return Effect.gen(function* () {
          const [start, end] = yield* Effect.all([
            primitives.listOffsets(topic, "earliest"),
            primitives.listOffsets(topic, "latest")
          ])
          const out: Array<TopicPartitionOffset> = []
          for (let i = 0; i < to.offsets.length; i++) {
            const { offset, partition } = to.offsets[i]!
            const low = start.get(partition)
            const high = end.get(partition)
            if (low === undefined || high === undefined) {
              return yield* input.invalid(
                operation,
                `to.offsets[${i}].partition`,
                `be a partition of ${JSON.stringify(topic)} (it has ${plural(end.size, "partition")})`,
                partition
              )
            }
            if (offset < low || offset > high) {
              return yield* input.invalid(
                operation,
                `to.offsets[${i}].offset`,
                `lie between the start and end offsets of ${TP.format({ topic, partition })} (${low}…${high})`,
                offset
              )
            }
            out.push({ topic, partition, offset })
          }
          return out.sort((a, b) => a.partition - b.partition)
        })
    }
  }

  const resetOffsets = Effect.fn("Admin.resetOffsets")(function* (options: ResetOffsets) {
    const operation = "Admin.resetOffsets"
    const { groupId, to, topic } = options
    yield* Effect.annotateCurrentSpan({ groupId, topic, to: to._tag })
    yield* input.groupId(operation, groupId)
    yield* input.topic(operation, "topic", topic)
    yield* input.resetTarget(operation, to)
    yield* requireTopics(operation, [topic])
    const group = yield* primitives.describeGroup(groupId)
    // The broker refuses too (a commit from outside a live group), but after the offsets were
    // computed and without saying why: refusing here names the members.
    if (group !== undefined && group.members.length > 0) {
      return yield* makeError({
        reason: "GroupNotEmpty",
        operation,
        message: `group ${JSON.stringify(groupId)} has ${plural(group.members.length, "member")} (${group.state}); stop them before resetting its offsets`
      })
    }
    const offsets = yield* targetOffsets(operation, options)
    yield* primitives.commitOffsets(groupId, offsets)
    return offsets
  })

  return {
    createTopics,
    deleteTopics,
    listTopics: listTopics.pipe(Effect.withSpan("Admin.listTopics")),
    describeTopics,
    listGroups: Effect.map(primitives.listGroups, (ids) => [...ids].sort(byName)).pipe(
      Effect.withSpan("Admin.listGroups")
    ),
    describeGroup,
    resetOffsets
  }
}
