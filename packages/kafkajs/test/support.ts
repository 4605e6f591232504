/**
 * What the broker tests of this package share: topics, a producer and a recording listener
 * standing in for the engine. The broker and the general helpers (`uniqueName`,
 * `eventually`) come from the testkit.
 */
import type { GroupListener, PartitionAssignment, Subscription } from "@sluice/core/ConsumerDriver"
import type { RawRecord } from "@sluice/core/ConsumerRecord"
import type { TopicPartition } from "@sluice/core/TopicPartition"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { Kafka, logLevel } from "kafkajs"
import * as KafkaJsAdmin from "../src/KafkaJsAdmin.js"
import * as KafkaJsProducer from "../src/KafkaJsProducer.js"

/** An admin client for the test's scope. */
export const admin = (brokers: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.tryPromise(async () => {
      const client = new Kafka({
        clientId: "sluice-test-admin",
        brokers: [...brokers],
        logLevel: logLevel.WARN
      }).admin()
      await client.connect()
      return client
    }),
    (client) => Effect.tryPromise(() => client.disconnect()).pipe(Effect.ignore)
  )

/**
 * Creates a topic and waits for its leaders (deleted when the scope closes). Through the
 * package's own `Admin`: kafkajs's `createTopics` alone fails when a broker answers
 * UNKNOWN_TOPIC_OR_PARTITION while the new topic's leaders are elected, and the `Admin` waits
 * that out.
 */
export const createTopic = (brokers: ReadonlyArray<string>, topic: string, partitions: number) =>
  Effect.gen(function* () {
    const client = yield* KafkaJsAdmin.make({ brokers, clientId: "sluice-test-admin" })
    yield* client.createTopics([{ name: topic, partitions }])
    yield* Effect.addFinalizer(() => client.deleteTopics([topic]).pipe(Effect.ignore))
  })

/** Produces `count` records per partition, keyed `k<i>`, valued `v<i>`. */
export const produce = (brokers: ReadonlyArray<string>, topic: string, partitions: number, count: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const producer = yield* KafkaJsProducer.make({ brokers, clientId: "sluice-test-producer" })
      const records = []
      for (let p = 0; p < partitions; p++) {
        for (let i = 0; i < count; i++) {
          records.push({
            topic,
            partition: p,
            key: new TextEncoder().encode(`k${i}`),
            value: new TextEncoder().encode(`v${i}`),
            headers: [{ key: "i", value: new TextEncoder().encode(String(i)) }]
          })
        }
      }
      return yield* producer.send(records)
    })
  )

/** The group's committed offsets of `topic` (partitions without one are absent). */
export const committed = (brokers: ReadonlyArray<string>, groupId: string, topic: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const client = yield* admin(brokers)
      const [result] = yield* Effect.tryPromise(() => client.fetchOffsets({ groupId, topics: [topic] }))
      const out = new Map<number, number>()
      for (const p of result?.partitions ?? []) if (Number(p.offset) >= 0) out.set(p.partition, Number(p.offset))
      return out
    })
  )

export const subscription = (topic: string, groupId: string, overrides: Partial<Subscription> = {}): Subscription => ({
  groupId,
  topics: [topic],
  startFrom: "earliest",
  sessionTimeout: Duration.seconds(10),
  rebalanceTimeout: Duration.seconds(30),
  heartbeatInterval: Duration.seconds(1),
  maxBytesPerPartition: 1_048_576,
  clientId: "sluice-test",
  ...overrides
})

export type Event =
  | { readonly _tag: "assigned"; readonly at: number; readonly partitions: ReadonlyArray<PartitionAssignment> }
  | {
      readonly _tag: "revoked"
      readonly at: number
      readonly end: number
      readonly partitions: ReadonlyArray<TopicPartition>
    }
  | { readonly _tag: "lost"; readonly at: number; readonly partitions: ReadonlyArray<TopicPartition> }
  | {
      readonly _tag: "records"
      readonly at: number
      readonly partition: TopicPartition
      readonly records: ReadonlyArray<RawRecord>
    }

/**
 * A listener that records what the driver tells it, with wall-clock times. `onRevoked`
 * runs `revoke` (e.g. a slow drain and a commit) before it returns; `onRecords` runs
 * `receive` (which must be quick, like the engine's).
 */
export const recorder = (
  hooks: {
    readonly revoke?: (partitions: ReadonlyArray<TopicPartition>) => Effect.Effect<void>
    readonly receive?: (partition: TopicPartition, records: ReadonlyArray<RawRecord>) => Effect.Effect<void>
  } = {}
) => {
  const events: Array<Event> = []
  const listener: GroupListener = {
    onAssigned: (partitions) => Effect.sync(() => void events.push({ _tag: "assigned", at: Date.now(), partitions })),
    onRevoked: (partitions) =>
      Effect.gen(function* () {
        const at = Date.now()
        if (hooks.revoke !== undefined) yield* hooks.revoke(partitions)
        events.push({ _tag: "revoked", at, end: Date.now(), partitions })
      }),
    onLost: (partitions) => Effect.sync(() => void events.push({ _tag: "lost", at: Date.now(), partitions })),
    onRecords: (partition, records) =>
      Effect.gen(function* () {
        events.push({ _tag: "records", at: Date.now(), partition, records })
        if (hooks.receive !== undefined) yield* hooks.receive(partition, records)
      })
  }
  const records = () => events.flatMap((e) => (e._tag === "records" ? e.records : []))
  const owned = () => {
    const now = new Map<string, TopicPartition>()
    for (const e of events) {
      if (e._tag === "assigned")
        for (const a of e.partitions)
          now.set(`${a.topicPartition.topic}|${a.topicPartition.partition}`, a.topicPartition)
      if (e._tag === "revoked" || e._tag === "lost") now.clear()
    }
    return [...now.values()]
  }
  return { events, listener, records, owned }
}
