/**
 * Exactly-once pipelines on kafkajs against a real broker (G10): a pipeline's outputs and
 * offsets in one transaction per partition, read back with `read_committed`; a producer of the
 * same transactional id fences the former one (the per-partition id scheme kafkajs needs: its
 * TxnOffsetCommit v0/v1 carries no group metadata); bad transactional settings.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Codec from "@sluice/core/Codec"
import * as Pipeline from "@sluice/core/Pipeline"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { uniqueName } from "@sluice/testkit/TestHelpers"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as KafkaJs from "../src/KafkaJs.js"
import * as KafkaJsTransactional from "../src/KafkaJsTransactional.js"
import { readCommitted as read } from "./readCommitted.js"
import { committed, createTopic, produce } from "./support.js"

const broker = await brokerForTests()

const readCommitted = (brokers: ReadonlyArray<string>, topic: string, expected: number) =>
  Effect.tryPromise(() => read(brokers, topic, expected))

describe.skipIf(broker === undefined)("exactly-once pipelines on a real broker (kafkajs)", () => {
  const brokers = broker?.brokers ?? []

  it.scopedLive(
    "G10 a pipeline's outputs and offsets commit in one transaction per partition: each input's output once under read_committed",
    () =>
      Effect.gen(function* () {
        const name = uniqueName("sluice-eos")
        const out = `${name}.out`
        const groupId = uniqueName("sluice-eos-group")
        yield* createTopic(brokers, name, 3)
        yield* createTopic(brokers, out, 2)
        yield* produce(brokers, name, 3, 200)
        const input = Topic.make({ name, key: Codec.string, value: Codec.string })
        const output = Topic.make({ name: out, key: Codec.string, value: Codec.string })
        const pipeline = Pipeline.make({
          topic: input,
          handler: (record: Topic.RecordOf<typeof input>) =>
            Effect.flatMap(Producer.Producer, (producer) =>
              producer.send(output, [{ key: record.key ?? "", value: `${record.partition}:${record.offset}` }])
            )
        }).pipe(Pipeline.exactlyOnce({ size: 100, within: "100 millis", transactionalIdPrefix: "sluice-test" }))
        const running = yield* Effect.fork(
          Pipeline.run(pipeline).pipe(
            Effect.provide(KafkaJs.layer({ brokers, groupId, logLevel: "error", sessionTimeout: "6 seconds" }))
          )
        )
        const values = yield* readCommitted(brokers, out, 600)
        yield* Fiber.interrupt(running)
        expect(values.length).toBe(600)
        expect(new Set(values).size).toBe(600)
        const offsets = yield* committed(brokers, groupId, name)
        expect([...offsets.values()]).toEqual([200, 200, 200])
      }),
    120_000
  )

  it.scopedLive(
    "G10 a new producer of a partition's transactional id fences the former one: its commit is refused and nothing it wrote is visible",
    () =>
      Effect.gen(function* () {
        const name = uniqueName("sluice-eos-fence")
        const groupId = uniqueName("sluice-eos-fence-group")
        yield* createTopic(brokers, name, 1)
        const driver = yield* KafkaJsTransactional.make({ brokers, logLevel: "nothing" })
        const partition = { transactionalId: `${name}-0`, groupId, topicPartition: { topic: name, partition: 0 } }
        const record = (v: string) => ({ topic: name, key: null, value: new TextEncoder().encode(v) })
        const zombie = yield* driver.open(partition)
        yield* zombie.commit([record("first")], [{ topic: name, partition: 0, offset: 1 }])
        const owner = yield* driver.open(partition)
        expect(owner.committed?.offset).toBe(1)
        const refused = yield* zombie
          .commit([record("zombie")], [{ topic: name, partition: 0, offset: 5 }])
          .pipe(Effect.flip)
        expect(refused.reason).toBe("fenced")
        expect(refused.retriable).toBe(false)
        yield* owner.commit([record("owner")], [{ topic: name, partition: 0, offset: 2 }])
        expect(yield* readCommitted(brokers, name, 2)).toEqual(["first", "owner"])
        expect((yield* committed(brokers, groupId, name)).get(0)).toBe(2)
      }),
    120_000
  )

  it.effect("bad transactional settings fail with a SettingsError naming the field", () =>
    Effect.gen(function* () {
      const long = yield* Effect.scoped(KafkaJsTransactional.make({ brokers }, { transactionTimeout: "1 hour" })).pipe(
        Effect.flip
      )
      expect(long).toMatchObject({ _tag: "SettingsError", setting: "transactionTimeout" })
      const negative = yield* Effect.scoped(
        KafkaJsTransactional.make({ brokers }, { transactionTimeout: -5 as never })
      ).pipe(Effect.flip)
      expect(negative).toMatchObject({ _tag: "SettingsError", setting: "transactionTimeout" })
    })
  )
})
