/**
 * What the conformance suite needs from a cluster besides a `ConsumerDriver`: topics,
 * records and a view of committed offsets. Each driver's test layer provides both services,
 * so the same guarantee tests run on the simulated cluster and on a real broker.
 *
 * @since 0.1.0
 */

import { Admin, type AdminError } from "@sluice/core/Admin"
import type { RawRecord } from "@sluice/core/ConsumerRecord"
import * as KafkaError from "@sluice/core/KafkaError"
import { ProducerDriver, type ProducerRecord } from "@sluice/core/ProducerDriver"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"

/**
 * A cluster as the conformance suite sees it: topics, records and committed offsets.
 *
 * @since 0.1.0
 */
export class TestCluster extends Context.Tag("@sluice/testkit/TestCluster")<
  TestCluster,
  {
    /** "memory" or "kafkajs": shown in test titles and logs. */
    readonly name: string
    /** Creates a topic and waits until it can be produced to and consumed from. */
    readonly createTopic: (topic: string, partitions: number) => Effect.Effect<void, KafkaError.KafkaError>
    /** Produces and waits for the acknowledgement of every record. */
    readonly produce: (records: ReadonlyArray<ProducerRecord>) => Effect.Effect<void, KafkaError.KafkaError>
    /** The group's committed offset per partition of `topic` (partitions without one are absent). */
    readonly committed: (
      groupId: string,
      topic: string
    ) => Effect.Effect<ReadonlyMap<number, number>, KafkaError.KafkaError>
    /** The offset the next produced record of each partition will get. */
    readonly endOffsets: (topic: string) => Effect.Effect<ReadonlyMap<number, number>, KafkaError.KafkaError>
    /** Every record of `topic` (all partitions, each in offset order): for small topics, e.g. a dead-letter topic. */
    readonly readAll: (topic: string) => Effect.Effect<ReadonlyArray<RawRecord>, KafkaError.KafkaError>
  }
>() {}

const toKafkaError = (error: AdminError): KafkaError.KafkaError =>
  KafkaError.make({
    reason: error.reason === "Connection" ? "connection" : error.reason === "Timeout" ? "timeout" : "protocol",
    operation: `TestCluster.${error.operation}`,
    message: error.message,
    retriable: error.reason === "Connection" || error.reason === "Timeout",
    cause: error
  })

/**
 * A `TestCluster` for a real broker from a driver's own `Admin` and `ProducerDriver`: topics
 * are created through `Admin.createTopics` (which waits for the leaders), records produced
 * through the driver, committed and end offsets read through `Admin`. Only `readAll` is the
 * driver's own (it needs a consumer outside any group).
 *
 * @example
 * ```ts
 * import * as TestCluster from "@sluice/testkit/TestCluster"
 * import * as Effect from "effect/Effect"
 * import * as Layer from "effect/Layer"
 *
 * const ClusterLive = Layer.effect(
 *   TestCluster.TestCluster,
 *   TestCluster.fromServices({ name: "my-driver", readAll: () => Effect.succeed([]) })
 * )
 * ```
 *
 * @since 0.2.0
 */
export const fromServices = (options: {
  readonly name: string
  readonly readAll: (topic: string) => Effect.Effect<ReadonlyArray<RawRecord>, KafkaError.KafkaError>
}): Effect.Effect<TestCluster["Type"], never, Admin | ProducerDriver> =>
  Effect.gen(function* () {
    const admin = yield* Admin
    const producer = yield* ProducerDriver
    const span = (operation: string, attributes: Record<string, unknown>) =>
      Effect.withSpan(`${options.name}TestCluster.${operation}`, { attributes })
    return {
      name: options.name,
      createTopic: (topic, partitions) =>
        admin
          .createTopics([{ name: topic, partitions }], { ifNotExists: true })
          .pipe(Effect.mapError(toKafkaError), span("createTopic", { topic, partitions })),
      produce: (records) => Effect.asVoid(producer.send(records)).pipe(span("produce", { records: records.length })),
      committed: (groupId, topic) =>
        admin.describeGroup(groupId).pipe(
          Effect.map((group) => {
            const out = new Map<number, number>()
            for (const o of group.offsets) {
              if (o.topic === topic && o.committed !== undefined) out.set(o.partition, o.committed)
            }
            return out as ReadonlyMap<number, number>
          }),
          Effect.catchIf(
            (error) => error.reason === "UnknownGroup",
            () => Effect.succeed(new Map() as ReadonlyMap<number, number>)
          ),
          Effect.mapError(toKafkaError),
          span("committed", { groupId, topic })
        ),
      endOffsets: (topic) =>
        admin.describeTopics([topic]).pipe(
          Effect.map(
            ([described]) =>
              new Map((described?.partitions ?? []).map((p) => [p.partition, p.endOffset])) as ReadonlyMap<
                number,
                number
              >
          ),
          Effect.mapError(toKafkaError),
          span("endOffsets", { topic })
        ),
      readAll: options.readAll
    }
  })

/**
 * Creates `topic` with `partitions` partitions and produces `count` records into it, the shape
 * the process tests use: record `i` on partition `i mod partitions`, valued `i` (its decimal
 * digits), keyed `k<i mod 20>` unless `keyed` is `false`; sent 2,000 at a time.
 *
 * @example
 * ```ts
 * import * as TestCluster from "@sluice/testkit/TestCluster"
 *
 * // 10,000 records over 3 partitions: partition p holds p, p + 3, p + 6, …
 * const filled = TestCluster.fill("orders", 3, 10_000)
 * ```
 *
 * @since 0.3.0
 */
export const fill = (
  topic: string,
  partitions: number,
  count: number,
  options: { readonly keyed?: boolean | undefined } = {}
): Effect.Effect<void, KafkaError.KafkaError, TestCluster> =>
  Effect.gen(function* () {
    const cluster = yield* TestCluster
    yield* cluster.createTopic(topic, partitions)
    const encoder = new TextEncoder()
    for (let from = 0; from < count; from += 2000) {
      const batch: Array<ProducerRecord> = []
      for (let i = from; i < Math.min(count, from + 2000); i++) {
        batch.push({
          topic,
          partition: i % partitions,
          key: options.keyed === false ? null : encoder.encode(`k${i % 20}`),
          value: encoder.encode(String(i))
        })
      }
      yield* cluster.produce(batch)
    }
  })
