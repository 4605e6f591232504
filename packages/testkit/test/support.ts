/**
 * What the simulated cluster's tests share: a recording listener standing in for the engine,
 * members that join in a scope of their own, waiting by yielding to the other fibers (no
 * clock involved, so it works under `TestClock`), and a fresh cluster per test.
 */
import { expect } from "@effect/vitest"
import {
  ConsumerDriver,
  type GroupListener,
  type GroupSession,
  type PartitionAssignment,
  type Subscription
} from "@sluice/core/ConsumerDriver"
import type { KafkaError } from "@sluice/core/KafkaError"
import type { ProducerRecord } from "@sluice/core/ProducerDriver"
import * as TP from "@sluice/core/TopicPartition"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as MemoryKafka from "../src/MemoryKafka.js"

const encoder = new TextEncoder()

/** One listener call, in the order the members saw them. */
export interface LogEntry {
  readonly member: string
  readonly type: "assigned" | "revoking" | "revoked" | "lost"
  readonly partitions: ReadonlyArray<string>
}

/** A member's listener and what it saw. */
export interface Recorder {
  readonly name: string
  readonly listener: GroupListener
  readonly owned: Set<string>
  readonly received: Map<string, Array<number>>
  readonly batches: Array<number>
  readonly assignments: Array<PartitionAssignment>
  readonly lost: Array<string>
  /** Records delivered for a partition the recorder did not own: must stay empty. */
  readonly strays: Array<string>
  /** Set by `join`. */
  session: GroupSession | undefined
  /** Closes the session's scope: the member leaves. Set by `join`. */
  leave: Effect.Effect<void>
  count: number
}

/** Hooks into a recorder's listener. */
export interface Hooks {
  /** Runs inside `onRevoked`, before the recorder forgets the partitions. */
  readonly onRevoked?: (self: Recorder, partitions: ReadonlyArray<TP.TopicPartition>) => Effect.Effect<void>
}

const recorder = (name: string, log: Array<LogEntry>, hooks: Hooks = {}): Recorder => {
  const self: Recorder = {
    name,
    owned: new Set(),
    received: new Map(),
    batches: [],
    assignments: [],
    lost: [],
    strays: [],
    session: undefined,
    leave: Effect.void,
    count: 0,
    listener: {
      onAssigned: (partitions) =>
        Effect.sync(() => {
          const keys = partitions.map((p) => TP.key(p.topicPartition))
          log.push({ member: name, type: "assigned", partitions: keys })
          for (const key of keys) self.owned.add(key)
          self.assignments.push(...partitions)
        }),
      onRevoked: (partitions) =>
        Effect.suspend(() => {
          log.push({ member: name, type: "revoking", partitions: partitions.map(TP.key) })
          return Effect.zipRight(
            hooks.onRevoked?.(self, partitions) ?? Effect.void,
            Effect.sync(() => {
              for (const tp of partitions) self.owned.delete(TP.key(tp))
              log.push({ member: name, type: "revoked", partitions: partitions.map(TP.key) })
            })
          )
        }),
      onLost: (partitions) =>
        Effect.sync(() => {
          log.push({ member: name, type: "lost", partitions: partitions.map(TP.key) })
          for (const tp of partitions) {
            self.owned.delete(TP.key(tp))
            self.lost.push(TP.key(tp))
          }
        }),
      onRecords: (tp, records) =>
        Effect.sync(() => {
          const key = TP.key(tp)
          if (!self.owned.has(key)) self.strays.push(key)
          const list = self.received.get(key) ?? []
          self.received.set(key, list)
          for (const record of records) list.push(record.offset)
          self.count += records.length
          self.batches.push(records.length)
        })
    }
  }
  return self
}

/** A subscription with the test defaults: from the earliest offset, client id `test`. */
export const subscription = (
  groupId: string,
  topics: ReadonlyArray<string>,
  overrides: Partial<Subscription> = {}
): Subscription => ({
  groupId,
  topics,
  startFrom: "earliest",
  sessionTimeout: Duration.seconds(10),
  rebalanceTimeout: Duration.seconds(30),
  heartbeatInterval: Duration.seconds(1),
  maxBytesPerPartition: 1_048_576,
  clientId: "test",
  ...overrides
})

/** Subscribes in a scope of its own, so the test decides when the member leaves (`rec.leave`). */
const join = (rec: Recorder, sub: Subscription): Effect.Effect<Recorder, KafkaError, ConsumerDriver> =>
  Effect.gen(function* () {
    const driver = yield* ConsumerDriver
    const scope = yield* Scope.make()
    rec.session = yield* Scope.extend(driver.subscribe(sub, rec.listener), scope)
    rec.leave = Scope.close(scope, Exit.void)
    return rec
  })

/** A recorder named `name` that joins group `g` on topic `t` (unless `subscription` says otherwise). */
export const member = (
  name: string,
  log: Array<LogEntry> = [],
  options: { readonly subscription?: Partial<Subscription>; readonly hooks?: Hooks } = {}
): Effect.Effect<Recorder, KafkaError, ConsumerDriver> =>
  join(recorder(name, log, options.hooks), subscription("g", ["t"], options.subscription))

/**
 * An `onRevoked` hook that waits `delay`, then commits offset 0 of the revoked partitions and
 * records how that went in `outcomes`: `accepted`, or the error's reason.
 */
export const commitAfter =
  (delay: Duration.DurationInput, outcomes: Array<string>, metadata?: string) =>
  (self: Recorder, partitions: ReadonlyArray<TP.TopicPartition>): Effect.Effect<void> =>
    Effect.zipRight(
      Effect.sleep(delay),
      self.session!.commit(partitions.map((tp) => ({ ...tp, offset: 0, metadata }))).pipe(
        Effect.match({
          onFailure: (e) => outcomes.push(e.reason),
          onSuccess: () => outcomes.push("accepted")
        })
      )
    )

/** Waits for a condition by yielding to the other fibers: no clock involved. */
export const eventually = (condition: () => boolean, what: string): Effect.Effect<void> =>
  Effect.gen(function* () {
    for (let i = 0; i < 50_000; i++) {
      if (condition()) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage(`never happened: ${what}`)
  })

/** Lets every fiber run until nothing changes (a few thousand yields). */
export const settle: Effect.Effect<void> = Effect.gen(function* () {
  for (let i = 0; i < 2_000; i++) yield* Effect.yieldNow()
})

/** `count` records keyed `k<i>`, valued `<i>`: round-robin over `partitions` if given, else by key. */
export const numbered = (topic: string, count: number, partitions?: number): Array<ProducerRecord> =>
  Array.from({ length: count }, (_, i) => ({
    topic,
    partition: partitions === undefined ? undefined : i % partitions,
    key: encoder.encode(`k${i}`),
    value: encoder.encode(String(i))
  }))

/** Checks that each of the topic's partitions has exactly one owner in the snapshot. */
export const everyPartitionOnce = (snapshot: MemoryKafka.GroupSnapshot, topic: string, partitions: number): void => {
  const owners = new Map<number, Array<string>>()
  for (const member of snapshot.members) {
    for (const tp of member.assigned) {
      if (tp.topic !== topic) continue
      owners.set(tp.partition, [...(owners.get(tp.partition) ?? []), member.memberId])
    }
  }
  expect([...owners.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: partitions }, (_, i) => i))
  for (const list of owners.values()) expect(list).toHaveLength(1)
}

/** The cluster's handle, with `topic` created with `partitions`. */
export const clusterWithTopic = (topic: string, partitions: number) =>
  Effect.gen(function* () {
    const kafka = yield* MemoryKafka.MemoryKafka
    yield* kafka.createTopic(topic, partitions)
    return kafka
  })

/** Runs `self` on a fresh simulated cluster. */
export const provide = <A, E, R>(self: Effect.Effect<A, E, R>, options: Partial<MemoryKafka.Options> = {}) =>
  Effect.provide(self, MemoryKafka.layer(options))
