/**
 * What `MemoryKafka` exposes: the handle (topics, produce, inspection, faults) and the
 * drivers (`ConsumerDriver`, `ProducerDriver`, `TestCluster`, `Admin`) over one simulated cluster.
 *
 * Owns: nothing; it builds the cluster in the caller's scope and adapts its parts to the
 * public types.
 * May touch: nothing directly. Inspection reads and copies; produce and topic changes go
 * through `Logs`, faults through `Faults`, subscriptions through `session.ts`.
 */
import * as Admin from "@sluice/core/Admin"
import type { ConsumerDriver, OffsetAndMetadata } from "@sluice/core/ConsumerDriver"
import * as KafkaError from "@sluice/core/KafkaError"
import type { ProducerDriver, ProducerRecord } from "@sluice/core/ProducerDriver"
import * as TP from "@sluice/core/TopicPartition"
import type { TransactionalProducerDriver } from "@sluice/core/TransactionalProducerDriver"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as MemoryKafka from "../../MemoryKafka.js"
import type { TestCluster } from "../../TestCluster.js"
import { primitives as adminPrimitives } from "./admin.js"
import { Cluster } from "./cluster.js"
import { kafkaError } from "./errors.js"
import { isStable, snapshot } from "./group.js"
import { subscribe } from "./session.js"

export const make = (options: MemoryKafka.Options) =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const cluster = new Cluster(options, scope)
    const { commits, coordinator, journal, logs } = cluster

    const fromResult = <A>(
      result: A | KafkaError.KafkaError | undefined
    ): Effect.Effect<void, KafkaError.KafkaError> =>
      result instanceof KafkaError.KafkaError ? Effect.fail(result) : Effect.void

    const createTopic = (topic: string, partitions = options.partitions) =>
      Effect.suspend(() => fromResult(logs.createTopic(topic, partitions))).pipe(
        Effect.withSpan("MemoryKafka.createTopic", { attributes: { topic, partitions } })
      )

    const produce = (records: ReadonlyArray<ProducerRecord>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const result = logs.produce(records, now)
        return result instanceof KafkaError.KafkaError ? Effect.fail(result) : Effect.succeed(result)
      }).pipe(Effect.withSpan("MemoryKafka.send", { captureStackTrace: false }))

    const topicOrFail = (topic: string, operation: string) =>
      Effect.suspend(() => {
        const found = logs.topics.get(topic)
        return found === undefined
          ? Effect.fail(kafkaError(operation, "protocol", `unknown topic "${topic}"`))
          : Effect.succeed(found)
      })

    const endOffsets = (topic: string) =>
      Effect.map(
        topicOrFail(topic, "endOffsets"),
        (found): ReadonlyMap<number, number> =>
          new Map(found.partitions.map((log) => [log.partition, log.records.length]))
      )

    const committed = (groupId: string, topic: string) =>
      Effect.sync(() => {
        const out = new Map<number, MemoryKafka.CommittedOffset>()
        const offsets = commits.ofGroup(groupId)
        if (offsets === undefined) return out
        for (const [key, value] of offsets) {
          const tp = TP.fromKey(key)
          if (tp.topic === topic) out.set(tp.partition, value)
        }
        return new Map([...out].sort((a, b) => a[0] - b[0]))
      })

    const byGroup =
      <A extends { readonly groupId: string }>(list: () => ReadonlyArray<A>, copy: (a: A) => A = (a) => a) =>
      (groupId?: string) =>
        Effect.sync(() =>
          list()
            .filter((e) => groupId === undefined || e.groupId === groupId)
            .map(copy)
        )

    const handle: MemoryKafka.Handle = {
      options,
      createTopic,
      createPartitions: (topic, partitions) =>
        Effect.suspend(() => fromResult(logs.createPartitions(topic, partitions))),
      topics: Effect.sync(() => new Map(Array.from(logs.topics.values(), (t) => [t.name, t.partitions.length]))),
      produce,
      records: (topic, partition) =>
        Effect.flatMap(topicOrFail(topic, "records"), (found) => {
          const log = found.partitions[partition]
          return log === undefined
            ? Effect.fail(kafkaError("records", "protocol", `unknown partition ${topic}-${partition}`))
            : Effect.succeed(log.records.slice())
        }),
      endOffsets,
      committed,
      group: (groupId) =>
        Effect.sync(() => {
          const group = coordinator.groups.get(groupId)
          return group === undefined ? undefined : snapshot(group)
        }),
      awaitStable: (groupId) =>
        cluster.changed.until(() => {
          const group = coordinator.groups.get(groupId)
          return group !== undefined && isStable(group) ? snapshot(group) : undefined
        }),
      ownerOf: (topic, partition, groupId) =>
        Effect.sync(() => {
          const key = TP.key({ topic, partition })
          for (const group of coordinator.groups.values()) {
            if (groupId !== undefined && group.id !== groupId) continue
            const owner = group.owners.get(key)
            if (owner !== undefined) return owner.member.id
          }
          return undefined
        }),
      commitLog: byGroup(() => journal.commitLog),
      rejectedCommits: byGroup(() => journal.rejected),
      ownershipHistory: byGroup(
        () => journal.ownership,
        (e) => ({ ...e })
      ),
      groupEvents: byGroup(() => journal.events),
      faults: {
        ...cluster.faults.handle(),
        failTransactions: (o = {}) => Effect.sync(() => cluster.transactions.addFault(o)),
        clear: Effect.zipRight(
          cluster.faults.handle().clear,
          Effect.sync(() => cluster.transactions.clearFaults())
        )
      }
    }

    const consumer: ConsumerDriver["Type"] = {
      name: "memory",
      subscribe: (subscription, listener) => subscribe(cluster, subscription, listener)
    }

    const producer: ProducerDriver["Type"] = {
      name: "memory",
      send: produce,
      flush: Effect.void
    }

    const transactional: TransactionalProducerDriver["Type"] = {
      name: "memory",
      open: ({ groupId, topicPartition, transactionalId }) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const epoch = cluster.transactions.init(transactionalId, now)
          // Read after the fence: the former producer's transaction is settled by now.
          const committed = commits.ofGroup(groupId)?.get(TP.key(topicPartition))
          const commit = (records: ReadonlyArray<ProducerRecord>, offsets: ReadonlyArray<OffsetAndMetadata>) =>
            Effect.gen(function* () {
              const began = cluster.transactions.begin(transactionalId, epoch, records, yield* Clock.currentTimeMillis)
              if (began !== undefined) return yield* Effect.fail(began)
              // The transaction is open here: another producer of the id may fence it meanwhile.
              yield* Effect.yieldNow()
              const ended = cluster.transactions.end(
                transactionalId,
                epoch,
                groupId,
                offsets,
                yield* Clock.currentTimeMillis
              )
              if (ended !== undefined) return yield* Effect.fail(ended)
            }).pipe(Effect.withSpan("MemoryKafka.transaction", { attributes: { transactionalId } }))
          return {
            committed: committed === undefined ? undefined : { offset: committed.offset, metadata: committed.metadata },
            commit
          }
        }).pipe(Effect.withSpan("MemoryKafka.openTransactional", { attributes: { transactionalId } }))
    }

    const testCluster: TestCluster["Type"] = {
      name: "memory",
      createTopic: (topic, partitions) => createTopic(topic, partitions),
      produce: (records) => Effect.asVoid(produce(records)),
      committed: (groupId, topic) =>
        Effect.map(committed(groupId, topic), (map) => new Map(Array.from(map, ([p, c]) => [p, c.offset]))),
      endOffsets,
      // What a read_committed reader sees: no transaction markers, nothing aborted or still open.
      readAll: (topic) =>
        Effect.map(topicOrFail(topic, "readAll"), (found) =>
          found.partitions.flatMap((log) => log.readCommitted(0, log.stableEnd()))
        )
    }

    return { handle, consumer, producer, transactional, testCluster, admin: Admin.make(adminPrimitives(cluster)) }
  })
