/**
 * The admin port's primitives on a connected kafkajs admin client.
 *
 * One of them needs more than kafkajs's admin offers: a reset commits offsets from outside
 * the group, as Kafka's own admin client does (an `OffsetCommit` with no member id and
 * generation -1, which the coordinator accepts only while the group has no members). kafkajs's
 * `admin.setOffsets` joins the group with a consumer instead, so a member starting meanwhile
 * joins beside it and may be handed offsets from before the reset. The commit goes through a
 * kafkajs cluster of its own, built by the client's cluster factory (kafkajs 2.2 keeps it under
 * a private symbol), for the duration of the commit.
 *
 * File:line references are to kafkajs 2.2.4 `src/`.
 */
import * as Admin from "@sluice/core/Admin"
import * as TP from "@sluice/core/TopicPartition"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { AssignerProtocol, type Kafka, type Admin as KafkaJsAdminClient } from "kafkajs"
import type * as KafkaJsConfig from "../KafkaJsConfig.js"
import { commitFromOutsideRefusals, toAdminError } from "./adminError.js"

/** A kafkajs promise as an effect with a span; a rejection becomes an `AdminError`. */
const call = <A>(
  operation: string,
  promise: () => Promise<A>,
  overrides?: ReadonlyMap<string, Admin.AdminErrorReason>
): Effect.Effect<A, Admin.AdminError> =>
  Effect.tryPromise({
    try: promise,
    catch: (error) => toAdminError(error, `KafkaJsAdmin.${operation}`, overrides)
  }).pipe(Effect.withSpan(`KafkaJsAdmin.${operation}`))

/** The part of kafkajs's `Cluster` (`cluster/index.js`) a commit from outside the group uses. */
interface GroupCluster {
  connect(): Promise<void>
  disconnect(): Promise<void>
  findGroupCoordinator(request: { readonly groupId: string }): Promise<{
    offsetCommit(request: {
      readonly groupId: string
      readonly groupGenerationId: number
      readonly memberId: string
      readonly topics: ReadonlyArray<{
        readonly topic: string
        readonly partitions: ReadonlyArray<{ readonly partition: number; readonly offset: string }>
      }>
    }): Promise<unknown>
  }>
}

/** `Kafka`'s cluster factory (`index.js:17-19, 69-95`), or undefined in a kafkajs without it. */
const clusterFactory = (kafka: Kafka): ((options: { allowAutoTopicCreation: boolean }) => GroupCluster) | undefined => {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === "private:Kafka:createCluster")
  const factory = symbol === undefined ? undefined : (kafka as unknown as Record<symbol, unknown>)[symbol]
  return typeof factory === "function"
    ? (factory as (options: { allowAutoTopicCreation: boolean }) => GroupCluster)
    : undefined
}

/** Decodes a member's assignment (empty while the group rebalances, or for a non-consumer protocol). */
const assignmentOf = (buffer: Buffer): ReadonlyArray<TP.TopicPartition> => {
  if (buffer.length === 0) return []
  try {
    const decoded = AssignerProtocol.MemberAssignment.decode(buffer)
    if (decoded === null) return []
    return Object.entries(decoded.assignment)
      .flatMap(([topic, partitions]) => partitions.map((partition) => TP.make(topic, partition)))
      .sort(TP.order)
  } catch {
    return []
  }
}

/** Kafka's classic group states, as the port names them (`Dead`: the group does not exist). */
const groupState = (state: string): Admin.GroupState | undefined =>
  state === "Dead" ? undefined : state === "Empty" ? "Empty" : state === "Stable" ? "Stable" : "Rebalancing"

export const primitives = (
  kafka: Kafka,
  client: KafkaJsAdminClient,
  config: KafkaJsConfig.Resolved
): Admin.Primitives => {
  const timeout = Duration.toMillis(config.requestTimeout)

  const commitOnce = (groupId: string, offsets: ReadonlyArray<Admin.TopicPartitionOffset>) => {
    const create = clusterFactory(kafka)
    if (create === undefined) {
      return Effect.fail(
        Admin.makeError({
          reason: "Unknown",
          operation: "KafkaJsAdmin.commitOffsets",
          message: "this kafkajs does not let Sluice commit from outside a group (kafkajs 2.2 does)"
        })
      )
    }
    const byTopic = new Map<string, Array<{ partition: number; offset: string }>>()
    for (const o of offsets) {
      const list = byTopic.get(o.topic) ?? []
      list.push({ partition: o.partition, offset: String(o.offset) })
      byTopic.set(o.topic, list)
    }
    return Effect.acquireUseRelease(
      call("connect", async () => {
        const cluster = create({ allowAutoTopicCreation: false })
        await cluster.connect()
        return cluster
      }),
      (cluster) =>
        call(
          "commitOffsets",
          async () => {
            const coordinator = await cluster.findGroupCoordinator({ groupId })
            await coordinator.offsetCommit({
              groupId,
              groupGenerationId: -1,
              memberId: "",
              topics: Array.from(byTopic, ([topic, partitions]) => ({ topic, partitions }))
            })
          },
          commitFromOutsideRefusals
        ),
      (cluster) => Effect.ignore(call("disconnect", () => cluster.disconnect()))
    )
  }

  /** Every partition of `names` has a leader, retried for up to `timeout`; `error` when it never does. */
  const awaitLeaders = (names: ReadonlyArray<string>, error: Admin.AdminError) =>
    call("fetchTopicMetadata", () => client.fetchTopicMetadata({ topics: [...names] })).pipe(
      Effect.filterOrFail(
        (metadata) =>
          metadata.topics.length === names.length &&
          metadata.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0)),
        () => error
      ),
      Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo(Duration.millis(timeout)))),
      Effect.mapError(() => error)
    )

  return {
    listTopics: call("listTopics", () => client.listTopics()),

    createTopics: (topics) =>
      call("createTopics", () =>
        client.createTopics({
          topics: topics.map((t) => ({
            topic: t.name,
            // -1: the broker's default (`num.partitions`, `default.replication.factor`).
            numPartitions: t.partitions ?? -1,
            replicationFactor: t.replicationFactor ?? -1,
            configEntries: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value }))
          })),
          waitForLeaders: true,
          timeout
        })
      ).pipe(
        // kafkajs waits for the new topics' leaders with metadata requests and retries only
        // LEADER_NOT_AVAILABLE (`admin/index.js:33-45, 173-180`): a broker that has not seen a topic it
        // just created yet answers UNKNOWN_TOPIC_OR_PARTITION, and the whole call fails. The
        // topics were created; wait for their leaders here, within the same timeout.
        Effect.catchIf(
          (error) => error.reason === "UnknownTopic",
          (error) =>
            Effect.as(
              awaitLeaders(
                topics.map((t) => t.name),
                error
              ),
              true
            )
        ),
        // `false`: every failure was TOPIC_ALREADY_EXISTS (`admin/index.js:184-188`).
        Effect.filterOrFail(
          (created) => created,
          () =>
            Admin.makeError({
              reason: "TopicExists",
              operation: "KafkaJsAdmin.createTopics",
              message: `${topics.map((t) => JSON.stringify(t.name)).join(", ")}: created meanwhile`
            })
        ),
        Effect.asVoid
      ),

    deleteTopics: (topics) => call("deleteTopics", () => client.deleteTopics({ topics: [...topics], timeout })),

    describeTopics: (topics) =>
      call("describeTopics", () => client.fetchTopicMetadata({ topics: [...topics] })).pipe(
        Effect.flatMap((metadata) =>
          Effect.forEach(topics, (name) => {
            const found = metadata.topics.find((t) => t.name === name)
            if (found === undefined) {
              return Effect.fail(
                Admin.makeError({
                  reason: "UnknownTopic",
                  operation: "KafkaJsAdmin.describeTopics",
                  message: `unknown topic ${JSON.stringify(name)}`
                })
              )
            }
            return Effect.succeed({
              name,
              partitions: [...found.partitions]
                .sort((a, b) => a.partitionId - b.partitionId)
                .map((p) => ({
                  partition: p.partitionId,
                  // -1: no leader (being elected, or its broker is down).
                  leader: p.leader >= 0 ? p.leader : undefined,
                  replicas: p.replicas,
                  isr: p.isr
                }))
            })
          })
        )
      ),

    listOffsets: (topic, query) =>
      (typeof query === "object"
        ? call("listOffsets", () => client.fetchTopicOffsetsByTimestamp(topic, query.timestamp)).pipe(
            Effect.map((offsets) => new Map(offsets.map((p) => [p.partition, Number(p.offset)])))
          )
        : call("listOffsets", () => client.fetchTopicOffsets(topic)).pipe(
            Effect.map(
              (offsets) => new Map(offsets.map((p) => [p.partition, Number(query === "earliest" ? p.low : p.high)]))
            )
          )
      ).pipe(
        // A leader that moved (NOT_LEADER_FOR_PARTITION, e.g. just after the topic was created):
        // kafkajs asked the broker its metadata named, so refresh the metadata and try again.
        Effect.retry({
          schedule: Schedule.intersect(Schedule.exponential("200 millis"), Schedule.recurs(config.retries)).pipe(
            Schedule.tapInput(() =>
              Effect.ignore(call("fetchTopicMetadata", () => client.fetchTopicMetadata({ topics: [topic] })))
            )
          ),
          while: (e) => e.reason === "Connection"
        })
      ),

    // Consumer groups only: "consumer", or "" for a group made by a commit from outside.
    listGroups: call("listGroups", () => client.listGroups()).pipe(
      Effect.map(({ groups }) =>
        groups.filter((g) => g.protocolType === "consumer" || g.protocolType === "").map((g) => g.groupId)
      )
    ),

    describeGroup: (groupId) =>
      call("describeGroup", () => client.describeGroups([groupId])).pipe(
        Effect.map(({ groups }) => {
          const group = groups.find((g) => g.groupId === groupId)
          const state = group === undefined ? undefined : groupState(group.state)
          if (group === undefined || state === undefined) return undefined
          return {
            state,
            members: group.members.map((m) => ({
              memberId: m.memberId,
              clientId: m.clientId,
              // kafkajs passes Kafka's own form on, e.g. "/127.0.0.1".
              host: m.clientHost.replace(/^\//, ""),
              assignment: assignmentOf(m.memberAssignment)
            }))
          }
        }),
        // Newer brokers may say so instead of describing a `Dead` group.
        Effect.catchIf(
          (e) => e.reason === "UnknownGroup",
          () => Effect.succeed(undefined)
        )
      ),

    committedOffsets: (groupId) =>
      call("committedOffsets", () => client.fetchOffsets({ groupId })).pipe(
        Effect.map((topics) =>
          topics.flatMap(({ partitions, topic }) =>
            partitions
              .map((p) => ({ topic, partition: p.partition, offset: Number(p.offset) }))
              // -1: no offset for this partition.
              .filter((o) => o.offset >= 0)
          )
        )
      ),

    commitOffsets: (groupId, offsets) =>
      commitOnce(groupId, offsets).pipe(
        // A coordinator that moved or is loading: try again shortly.
        Effect.retry({
          schedule: Schedule.intersect(Schedule.exponential("200 millis"), Schedule.recurs(config.retries)),
          while: (e) => e.reason === "Connection"
        })
      )
  }
}
