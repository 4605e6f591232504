/**
 * What the conformance suite needs from a cluster besides a `ConsumerDriver`: topics,
 * records and a view of committed offsets. Each driver's test layer provides both services,
 * so the same guarantee tests run on the simulated cluster and on a real broker.
 *
 * @since 0.1.0
 */

import type { RawRecord } from "@sluice/core/ConsumerRecord"
import type { KafkaError } from "@sluice/core/KafkaError"
import type { ProducerRecord } from "@sluice/core/ProducerDriver"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"

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
    readonly createTopic: (topic: string, partitions: number) => Effect.Effect<void, KafkaError>
    /** Produces and waits for the acknowledgement of every record. */
    readonly produce: (records: ReadonlyArray<ProducerRecord>) => Effect.Effect<void, KafkaError>
    /** The group's committed offset per partition of `topic` (partitions without one are absent). */
    readonly committed: (groupId: string, topic: string) => Effect.Effect<ReadonlyMap<number, number>, KafkaError>
    /** The offset the next produced record of each partition will get. */
    readonly endOffsets: (topic: string) => Effect.Effect<ReadonlyMap<number, number>, KafkaError>
    /** Every record of `topic` (all partitions, each in offset order): for small topics, e.g. a dead-letter topic. */
    readonly readAll: (topic: string) => Effect.Effect<ReadonlyArray<RawRecord>, KafkaError>
  }
>() {}
