/**
 * The admin port's primitives on the client's native `AdminClient` (`lib/admin.js`), which
 * answers through Node-style callbacks.
 *
 * Two requests need more than it offers. Creating topics returns once the controller accepted
 * them, before every partition has a leader, so creation waits for the leaders through
 * `describeTopics`. And the client has no `AlterConsumerGroupOffsets`: an offset reset commits
 * from outside the group the way Kafka's own admin client does, with an `OffsetCommit` of no
 * member id and generation -1, which the coordinator accepts only while the group has no
 * members. librdkafka sends exactly that for a consumer that never subscribed, so the commit goes
 * through a short-lived `KafkaConsumer` of the group that never joins it.
 */
import { RdKafka } from "@confluentinc/kafka-javascript"
import * as Admin from "@sluice/core/Admin"
import * as TP from "@sluice/core/TopicPartition"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as ConfluentConfig from "../ConfluentConfig.js"
import { commitFromOutsideRefusals, toAdminError } from "./adminError.js"
import { Commits } from "./commits.js"
import { makeConsumer, type NativeError } from "./native.js"
import * as Properties from "./properties.js"

/** The client's admin handle, as `lib/admin.js` behaves (its declarations are looser). */
export type NativeAdmin = ReturnType<typeof RdKafka.AdminClient.create>

type Callback<A> = (error: NativeError | null | undefined, value: A) => void

/** A callback call of the client as an effect with a span; an error becomes an `AdminError`. */
const call = <A>(
  operation: string,
  run: (cb: Callback<A>) => void,
  overrides?: ReadonlyMap<number, Admin.AdminErrorReason>
): Effect.Effect<A, Admin.AdminError> =>
  Effect.async<A, Admin.AdminError>((resume) => {
    try {
      run((error, value) =>
        resume(
          error ? Effect.fail(toAdminError(error, `ConfluentAdmin.${operation}`, overrides)) : Effect.succeed(value)
        )
      )
    } catch (error) {
      resume(Effect.fail(toAdminError(error, `ConfluentAdmin.${operation}`, overrides)))
    }
  }).pipe(Effect.withSpan(`ConfluentAdmin.${operation}`))

// `ConsumerGroupStates` of the client (`types/rdkafka.d.ts`): 3 stable, 4 dead, 5 empty; the
// others (preparing or completing a rebalance, KIP-848's assigning and reconciling) rebalance.
const groupState = (state: number): Admin.GroupState | undefined =>
  state === 4 ? undefined : state === 5 ? "Empty" : state === 3 ? "Stable" : "Rebalancing"

const groupIdNotFound = 69
const consumerGroupType = 1

interface NativeMember {
  readonly memberId: string
  readonly clientId: string
  readonly clientHost?: string
  readonly assignment?: { readonly topicPartitions?: ReadonlyArray<{ topic: string; partition: number }> } | null
}

interface NativeGroup {
  readonly groupId: string
  readonly error?: NativeError
  readonly state: number
  readonly members: ReadonlyArray<NativeMember>
}

interface NativeTopic {
  readonly name: string
  readonly error?: NativeError
  readonly partitions: ReadonlyArray<{
    readonly partition: number
    readonly leader: { readonly id: number } | null
    readonly replicas: ReadonlyArray<{ readonly id: number }>
    readonly isr: ReadonlyArray<{ readonly id: number }>
  }>
}

export const primitives = (client: NativeAdmin, config: ConfluentConfig.Resolved): Admin.Primitives => {
  const timeout = Math.max(1, Math.round(Duration.toMillis(config.requestTimeout)))

  const describe = (topics: ReadonlyArray<string>) =>
    call<ReadonlyArray<NativeTopic>>("describeTopics", (cb) =>
      client.describeTopics([...topics], { timeout }, cb as never)
    ).pipe(
      Effect.flatMap((described) =>
        Effect.forEach(topics, (name) => {
          const found = described.find((t) => t.name === name)
          if (found === undefined || found.error !== undefined) {
            return Effect.fail(
              found?.error === undefined
                ? Admin.makeError({
                    reason: "UnknownTopic",
                    operation: "ConfluentAdmin.describeTopics",
                    message: `unknown topic ${JSON.stringify(name)}`
                  })
                : toAdminError(found.error, "ConfluentAdmin.describeTopics")
            )
          }
          return Effect.succeed({
            name,
            partitions: [...found.partitions]
              .sort((a, b) => a.partition - b.partition)
              .map((p) => ({
                partition: p.partition,
                leader: p.leader === null ? undefined : p.leader.id,
                replicas: p.replicas.map((r) => r.id),
                isr: p.isr.map((r) => r.id)
              }))
          })
        })
      )
    )

  /** Until every partition of `topics` has a leader, they cannot be used. */
  const leaders = (topics: ReadonlyArray<Admin.NewTopic>) =>
    describe(topics.map((t) => t.name)).pipe(
      Effect.filterOrFail(
        (described) =>
          described.every(
            (t, i) =>
              t.partitions.length > 0 &&
              (topics[i]?.partitions === undefined || t.partitions.length === topics[i]?.partitions) &&
              t.partitions.every((p) => p.leader !== undefined)
          ),
        () =>
          Admin.makeError({
            reason: "Timeout",
            operation: "ConfluentAdmin.createTopics",
            message: `${topics.map((t) => t.name).join(", ")}: no leader for every partition yet`
          })
      ),
      Effect.retry({
        schedule: Schedule.spaced("100 millis"),
        while: (e) => e.reason === "Timeout" || e.reason === "UnknownTopic" || e.reason === "Connection"
      }),
      Effect.timeoutFail({
        duration: config.requestTimeout,
        onTimeout: () =>
          Admin.makeError({
            reason: "Timeout",
            operation: "ConfluentAdmin.createTopics",
            message: `${topics.map((t) => t.name).join(", ")}: no leader for every partition after ${Duration.format(config.requestTimeout)}`
          })
      }),
      Effect.asVoid
    )

  const commitOnce = (groupId: string, offsets: ReadonlyArray<Admin.TopicPartitionOffset>) =>
    Effect.acquireUseRelease(
      Effect.suspend(() => {
        const commits = new Commits()
        const consumer = makeConsumer(
          {
            ...Properties.admin(config),
            "group.id": groupId,
            "enable.auto.commit": false,
            offset_commit_cb: commits.onResult
          },
          {}
        )
        return call<unknown>("connect", (cb) => consumer.connect({ timeout }, cb)).pipe(
          Effect.as({ consumer, commits })
        )
      }),
      ({ commits, consumer }) =>
        Effect.async<void, Admin.AdminError>((resume) => {
          let done = false
          const fail = (error: unknown) =>
            Effect.fail(toAdminError(error, "ConfluentAdmin.commitOffsets", commitFromOutsideRefusals))
          const list = offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset }))
          commits.expect(list, (error) => {
            done = true
            resume(error ? fail(error) : Effect.void)
          })
          try {
            consumer.commit(list)
          } catch (error) {
            done = true
            return resume(fail(error))
          }
          // The answer is served from inside `consume`; this consumer has no assignment, so each
          // call only serves callbacks.
          consumer.setDefaultConsumeTimeout(50)
          const serve = (): void => consumer.consume(1, () => (done ? undefined : void setImmediate(serve)))
          serve()
          return Effect.sync(() => {
            done = true
          })
        }).pipe(
          Effect.timeoutFail({
            duration: config.requestTimeout,
            onTimeout: () =>
              Admin.makeError({
                reason: "Timeout",
                operation: "ConfluentAdmin.commitOffsets",
                message: `no answer from the group's coordinator after ${Duration.format(config.requestTimeout)}`
              })
          }),
          Effect.withSpan("ConfluentAdmin.commitOffsets")
        ),
      ({ consumer }) => Effect.async<void>((resume) => consumer.disconnect(() => resume(Effect.void)))
    )

  return {
    listTopics: call<ReadonlyArray<string>>("listTopics", (cb) => client.listTopics({ timeout }, cb as never)),

    createTopics: (topics) =>
      Effect.forEach(
        topics,
        (t) =>
          call<void>("createTopics", (cb) =>
            client.createTopic(
              {
                topic: t.name,
                // -1: the broker's default (`num.partitions`, `default.replication.factor`).
                num_partitions: t.partitions ?? -1,
                replication_factor: t.replicationFactor ?? -1,
                ...(t.configs === undefined ? {} : { config: { ...t.configs } })
              },
              timeout,
              cb as never
            )
          ),
        { discard: true }
      ).pipe(Effect.zipRight(leaders(topics))),

    deleteTopics: (topics) =>
      Effect.forEach(
        topics,
        (name) => call<void>("deleteTopics", (cb) => client.deleteTopic(name, timeout, cb as never)),
        {
          discard: true
        }
      ),

    describeTopics: describe,

    listOffsets: (topic, query) =>
      Effect.gen(function* () {
        const [described] = yield* describe([topic])
        const partitions = described?.partitions.map((p) => p.partition) ?? []
        const list = (spec: unknown) =>
          call<ReadonlyArray<{ partition: number; offset: number }>>("listOffsets", (cb) =>
            client.listOffsets(
              partitions.map((partition) => ({ topic, partition, offset: spec as never })),
              { timeout },
              cb as never
            )
          ).pipe(Effect.map((offsets) => new Map(offsets.map((o) => [o.partition, o.offset]))))
        if (typeof query !== "object") {
          return yield* list(query === "earliest" ? RdKafka.OffsetSpec.EARLIEST : RdKafka.OffsetSpec.LATEST)
        }
        const byTime = yield* list(new (RdKafka.OffsetSpec as unknown as new (ts: number) => unknown)(query.timestamp))
        // -1: no record at or after the timestamp; the end then.
        if ([...byTime.values()].every((o) => o >= 0)) return byTime as ReadonlyMap<number, number>
        const latest = yield* list(RdKafka.OffsetSpec.LATEST)
        return new Map([...byTime].map(([p, o]) => [p, o >= 0 ? o : (latest.get(p) ?? 0)])) as ReadonlyMap<
          number,
          number
        >
      }),

    // Consumer groups only: the classic protocol's "consumer", a group made by a commit from
    // outside (protocol type "", which the client reports as a simple group), and KIP-848's
    // consumer groups.
    listGroups: call<{
      groups: ReadonlyArray<{ groupId: string; protocolType: string; isSimpleConsumerGroup: boolean; type: number }>
    }>("listGroups", (cb) => client.listGroups({ timeout }, cb as never)).pipe(
      Effect.map(({ groups }) =>
        groups
          .filter(
            (g) =>
              g.protocolType === "consumer" ||
              g.protocolType === "" ||
              g.isSimpleConsumerGroup ||
              g.type === consumerGroupType
          )
          .map((g) => g.groupId)
      )
    ),

    describeGroup: (groupId) =>
      call<{ groups: ReadonlyArray<NativeGroup> }>("describeGroup", (cb) =>
        client.describeGroups([groupId], { timeout }, cb as never)
      ).pipe(
        Effect.flatMap(({ groups }) => {
          const group = groups.find((g) => g.groupId === groupId)
          if (group?.error !== undefined) {
            return group.error.code === groupIdNotFound
              ? Effect.succeed(undefined)
              : Effect.fail(toAdminError(group.error, "ConfluentAdmin.describeGroup"))
          }
          const state = group === undefined ? undefined : groupState(group.state)
          if (group === undefined || state === undefined) return Effect.succeed(undefined)
          return Effect.succeed({
            state,
            members: group.members.map((m) => ({
              memberId: m.memberId,
              clientId: m.clientId,
              // Kafka's own form, e.g. "/127.0.0.1".
              host: m.clientHost?.replace(/^\//, ""),
              assignment: (m.assignment?.topicPartitions ?? [])
                .map((tp) => TP.make(tp.topic, tp.partition))
                .sort(TP.order)
            }))
          })
        }),
        Effect.catchIf(
          (e) => e.reason === "UnknownGroup",
          () => Effect.succeed(undefined)
        )
      ),

    committedOffsets: (groupId) =>
      call<
        ReadonlyArray<{
          error?: NativeError
          partitions: ReadonlyArray<{ topic: string; partition: number; offset: number }>
        }>
      >("committedOffsets", (cb) => client.listConsumerGroupOffsets([{ groupId }], { timeout }, cb as never)).pipe(
        Effect.flatMap((results) => {
          const failed = results.find((r) => r.error !== undefined)?.error
          if (failed !== undefined) return Effect.fail(toAdminError(failed, "ConfluentAdmin.committedOffsets"))
          return Effect.succeed(
            results.flatMap((r) =>
              r.partitions
                // -1: no offset for this partition.
                .filter((p) => p.offset >= 0)
                .map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset }))
            )
          )
        })
      ),

    commitOffsets: (groupId, offsets) =>
      commitOnce(groupId, offsets).pipe(
        // A coordinator that moved or is loading: try again shortly.
        Effect.retry({
          schedule: Schedule.intersect(Schedule.exponential("200 millis"), Schedule.recurs(4)),
          while: (e) => e.reason === "Connection"
        })
      )
  }
}
