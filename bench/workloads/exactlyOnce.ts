/**
 * Workload 8: exactly once on the real broker, for the Kafka sink. The same pipeline (a handler
 * that sends one output record per input with the `Producer`) runs at least once and exactly once
 * (`Pipeline.exactlyOnce`, one transaction per partition every `size` records), alternately, each
 * run with a fresh group over the same input topic. Also measured: the at-least-once sink written
 * as a batch pipeline (one send per chunk), the fastest way to write it at least once. The
 * `confluent_` variants run the same pipeline on `@sluice/confluent` (librdkafka: its idempotent
 * producer at least once, its transactional producer with KIP-447 offsets exactly once).
 *
 * Throughput counts from the first record handled to the moment the group's committed offsets
 * cover every input (the join is not counted; the last transactions are).
 */

import * as Confluent from "@sluice/confluent/Confluent"
import * as Codec from "@sluice/core/Codec"
import * as Pipeline from "@sluice/core/Pipeline"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import * as KafkaJs from "@sluice/kafkajs/KafkaJs"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { args, brokers, die, emit, now } from "../lib/common.js"
import { ensureTopic, type TopicSpec, withAdmin } from "../lib/kafka.js"

export type Variant =
  | "at_least_once"
  | "at_least_once_batched"
  | `exactly_once_${number}`
  | "confluent_at_least_once"
  | `confluent_exactly_once_${number}`

export interface ExactlyOnceArgs {
  readonly records: number
  readonly partitions: number
  readonly rounds: number
  /** Transaction sizes tried (records per partition per transaction). */
  readonly sizes: ReadonlyArray<number>
}

export interface ExactlyOnceRun {
  readonly round: number
  readonly variant: Variant
  readonly recordsPerSec: number
  readonly seconds: number
}

export interface ExactlyOnceResult {
  readonly runs: ReadonlyArray<ExactlyOnceRun>
}

export const exactlyOnceTopic = (records: number, partitions: number): TopicSpec => ({
  topic: `sluice-bench-eos-${records}-${partitions}`,
  counts: Array.from(
    { length: partitions },
    (_, p) => Math.floor(records / partitions) + (p < records % partitions ? 1 : 0)
  ),
  message: (partition, offset) => ({ key: `k${offset % 64}`, value: `${partition}:${offset}` })
})

const committedTotal = (groupId: string, topic: string) =>
  withAdmin(async (admin) => {
    const [result] = await admin.fetchOffsets({ groupId, topics: [topic] })
    return (result?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0)
  })

const runOnce = (spec: TopicSpec, variant: Variant, round: number) =>
  Effect.gen(function* () {
    const total = spec.counts.reduce((x, y) => x + y, 0)
    const groupId = `sluice-bench-eos-${variant}-${round}-${Date.now()}`
    const input = Topic.make({ name: spec.topic, key: Codec.string, value: Codec.string })
    const output = Topic.make({ name: `${spec.topic}.out`, key: Codec.string, value: Codec.string })
    let first = 0
    const started = () => {
      if (first === 0) first = now()
    }
    const perRecord = Pipeline.make({
      topic: input,
      handler: (record: Topic.RecordOf<typeof input>) =>
        Effect.zipRight(
          Effect.sync(started),
          Effect.flatMap(Producer.Producer, (p) => p.send(output, [{ key: record.key ?? "", value: record.value }]))
        )
    })
    const confluent = variant.startsWith("confluent_")
    const kind = confluent ? variant.slice("confluent_".length) : variant
    const pipeline =
      kind === "at_least_once"
        ? perRecord
        : kind === "at_least_once_batched"
          ? Pipeline.make({
              topic: input,
              batch: { size: 500, within: "50 millis" },
              handler: (records) =>
                Effect.zipRight(
                  Effect.sync(started),
                  Effect.flatMap(Producer.Producer, (p) =>
                    p.send(
                      output,
                      Chunk.toReadonlyArray(records).map((r) => ({ key: r.key ?? "", value: r.value }))
                    )
                  )
                )
            })
          : perRecord.pipe(
              Pipeline.exactlyOnce({ size: Number(kind.slice("exactly_once_".length)), within: "100 millis" })
            )
    const fiber = yield* Effect.fork(
      Pipeline.run(pipeline).pipe(
        Effect.provide(
          confluent
            ? Confluent.layer({
                brokers: [...brokers],
                groupId,
                clientId: "sluice-bench-eos",
                logLevel: "nothing",
                commitInterval: "100 millis"
              })
            : KafkaJs.layer({
                brokers: [...brokers],
                groupId,
                clientId: "sluice-bench-eos",
                logLevel: "nothing",
                commitInterval: "100 millis"
              })
        )
      )
    )
    for (;;) {
      yield* Effect.sleep("50 millis")
      if ((yield* Effect.tryPromise(() => committedTotal(groupId, spec.topic))) >= total) break
      if (fiber.unsafePoll() !== null)
        return yield* Effect.dieMessage(`${variant} stopped: ${String(fiber.unsafePoll())}`)
    }
    const seconds = (now() - first) / 1000
    yield* Fiber.interrupt(fiber)
    return { round, variant, recordsPerSec: Math.round(total / seconds), seconds } satisfies ExactlyOnceRun
  })

const program = (a: ExactlyOnceArgs) =>
  Effect.gen(function* () {
    const spec = exactlyOnceTopic(a.records, a.partitions)
    yield* Effect.tryPromise(() => ensureTopic(spec, (line) => process.stderr.write(`${line}\n`)))
    yield* Effect.tryPromise(() =>
      withAdmin((admin) =>
        admin.createTopics({
          topics: [{ topic: `${spec.topic}.out`, numPartitions: a.partitions }],
          waitForLeaders: true
        })
      )
    )
    const variants: Array<Variant> = [
      "at_least_once",
      "at_least_once_batched",
      ...a.sizes.map((size) => `exactly_once_${size}` as const),
      "confluent_at_least_once",
      ...a.sizes.map((size) => `confluent_exactly_once_${size}` as const)
    ]
    const runs: Array<ExactlyOnceRun> = []
    for (let round = 1; round <= a.rounds; round++) {
      // Alternate the order round by round, so that neither side always runs on a warmer broker.
      for (const variant of round % 2 === 0 ? [...variants].reverse() : variants) {
        const run = yield* runOnce(spec, variant, round)
        runs.push(run)
        process.stderr.write(`exactly_once round ${round} ${variant}: ${run.recordsPerSec} records/s\n`)
      }
    }
    return { runs } satisfies ExactlyOnceResult
  })

Effect.runPromise(program(args<ExactlyOnceArgs>())).then(emit, die)
