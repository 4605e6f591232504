/**
 * Exactly-once pipelines on librdkafka against a real broker (G10): a pipeline's outputs and
 * offsets in one transaction per partition, its offsets sent with the member's group metadata
 * (KIP-447), read back with `read_committed`; a producer of the same transactional id fences
 * the former one; bad transactional settings.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Codec from "@sluice/core/Codec"
import * as Pipeline from "@sluice/core/Pipeline"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { TestCluster } from "@sluice/testkit/TestCluster"
import { committedWhen, numberedRecords, uniqueName } from "@sluice/testkit/TestHelpers"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Confluent from "../src/Confluent.js"
import * as ConfluentTransactional from "../src/ConfluentTransactional.js"
import * as ConfluentTestCluster from "./ConfluentTestCluster.js"
import { openTransaction, readCommitted } from "./readCommitted.js"

const broker = await brokerForTests()

/**
 * Runs, in a fiber of the test's scope, a pipeline that copies `name` into `out` exactly once
 * (an output valued `<partition>:<offset>` per input) as a member of `groupId`.
 */
const copyExactlyOnce = (
  brokers: ReadonlyArray<string>,
  name: string,
  out: string,
  groupId: string,
  options: Pipeline.ExactlyOnceOptions
) => {
  const input = Topic.make({ name, key: Codec.string, value: Codec.string })
  const output = Topic.make({ name: out, key: Codec.string, value: Codec.string })
  const pipeline = Pipeline.make({
    topic: input,
    handler: (record: Topic.RecordOf<typeof input>) =>
      Effect.flatMap(Producer.Producer, (producer) =>
        producer.send(output, [{ key: record.key ?? "", value: `${record.partition}:${record.offset}` }])
      )
  }).pipe(Pipeline.exactlyOnce(options))
  return Effect.fork(
    Pipeline.run(pipeline).pipe(
      Effect.provide(Confluent.layer({ brokers, groupId, logLevel: "error", sessionTimeout: "6 seconds" }))
    )
  )
}

describe.skipIf(broker === undefined)("exactly-once pipelines on a real broker (confluent)", () => {
  const brokers = broker?.brokers ?? []
  const cluster = ConfluentTestCluster.layer(brokers)

  it.scopedLive(
    "G10 a pipeline's outputs and offsets commit in one transaction per partition (KIP-447 group metadata): each input's output once under read_committed",
    () =>
      Effect.gen(function* () {
        const name = uniqueName("cfeos-eos")
        const out = `${name}.out`
        const groupId = uniqueName("cfeos-eos-group")
        const kafka = yield* TestCluster
        yield* kafka.createTopic(name, 3)
        yield* kafka.createTopic(out, 2)
        yield* kafka.produce(numberedRecords(name, 3, 600))
        const running = yield* copyExactlyOnce(brokers, name, out, groupId, {
          size: 100,
          within: "100 millis",
          transactionalIdPrefix: "cfeos-test"
        })
        const values = yield* Effect.tryPromise(() => readCommitted(brokers, out, 2, 600))
        const offsets = yield* kafka.committed(groupId, name)
        yield* Fiber.interrupt(running)
        expect(values.length).toBe(600)
        expect(new Set(values).size).toBe(600)
        expect([...offsets.values()]).toEqual([200, 200, 200])
      }).pipe(Effect.provide(cluster)),
    120_000
  )

  it.scopedLive(
    "G10 a new producer of a partition's transactional id fences the former one: its commit is refused (fenced, final) and nothing it wrote is visible",
    () =>
      Effect.gen(function* () {
        const name = uniqueName("cfeos-eos-fence")
        const groupId = uniqueName("cfeos-eos-fence-group")
        const kafka = yield* TestCluster
        yield* kafka.createTopic(name, 1)
        const driver = yield* ConfluentTransactional.make({ brokers, logLevel: "nothing" })
        const partition = { transactionalId: `${name}-0`, groupId, topicPartition: { topic: name, partition: 0 } }
        const record = (v: string) => ({ topic: name, key: null, value: new TextEncoder().encode(v) })
        const zombie = yield* driver.open(partition)
        expect(zombie.committed).toBeUndefined()
        yield* zombie.commit([record("first")], [{ topic: name, partition: 0, offset: 1, metadata: "m1" }])
        const owner = yield* driver.open(partition)
        expect(owner.committed).toEqual({ offset: 1, metadata: "m1" })
        const refused = yield* zombie
          .commit([record("zombie")], [{ topic: name, partition: 0, offset: 5 }])
          .pipe(Effect.flip)
        expect(refused.reason).toBe("fenced")
        expect(refused.retriable).toBe(false)
        yield* owner.commit([record("owner")], [{ topic: name, partition: 0, offset: 2 }])
        expect(yield* Effect.tryPromise(() => readCommitted(brokers, name, 1, 2))).toEqual(["first", "owner"])
        expect((yield* kafka.committed(groupId, name)).get(0)).toBe(2)
      }).pipe(Effect.provide(cluster)),
    120_000
  )

  it.scopedLive(
    "G10 a failure that requires an abort (offset metadata too large) is aborted: retriable, nothing of it visible, and the same producer commits next",
    () =>
      Effect.gen(function* () {
        const name = uniqueName("cfeos-eos-abort")
        const groupId = uniqueName("cfeos-eos-abort-group")
        const kafka = yield* TestCluster
        yield* kafka.createTopic(name, 1)
        const driver = yield* ConfluentTransactional.make({ brokers, logLevel: "nothing" })
        const producer = yield* driver.open({
          transactionalId: `${name}-0`,
          groupId,
          topicPartition: { topic: name, partition: 0 }
        })
        const record = (v: string) => ({ topic: name, key: null, value: new TextEncoder().encode(v) })
        // The broker's offset.metadata.max.bytes is 4,096 by default.
        const refused = yield* producer
          .commit([record("aborted")], [{ topic: name, partition: 0, offset: 1, metadata: "x".repeat(10_000) }])
          .pipe(Effect.flip)
        expect(refused.cause).toMatchObject({ isTxnRequiresAbort: true, isFatal: false })
        expect(refused.retriable).toBe(true)
        expect(refused.reason).not.toBe("fenced")
        yield* producer.commit([record("committed")], [{ topic: name, partition: 0, offset: 2 }])
        expect(yield* Effect.tryPromise(() => readCommitted(brokers, name, 1, 1))).toEqual(["committed"])
        expect((yield* kafka.committed(groupId, name)).get(0)).toBe(2)
      }).pipe(Effect.provide(cluster)),
    120_000
  )

  it.scopedLive(
    "G10 a transaction a crashed owner left open does not hold its partition until it times out: the new owner's producer fences it before the committed offsets are read",
    () =>
      Effect.gen(function* () {
        const name = uniqueName("cfeos-crashed")
        const out = `${name}.out`
        const groupId = uniqueName("cfeos-crashed-group")
        const kafka = yield* TestCluster
        yield* kafka.createTopic(name, 1)
        yield* kafka.createTopic(out, 1)
        yield* kafka.produce(numberedRecords(name, 1, 10))
        // The crashed owner: its transaction holds an output and the offset 5, and stays open for
        // the 60 s the broker gives it. Under read_committed librdkafka reads committed offsets
        // with require_stable, so until that transaction ends the partition could not start.
        yield* Effect.acquireRelease(
          Effect.tryPromise(() => openTransaction(brokers, `cfeos-crashed-${groupId}-${name}-0`, groupId, name, out)),
          (close) => Effect.ignore(Effect.tryPromise(close))
        )
        const started = Date.now()
        const running = yield* copyExactlyOnce(brokers, name, out, groupId, {
          size: 5,
          within: "100 millis",
          transactionalIdPrefix: "cfeos-crashed"
        })
        // 25 s: well under the open transaction's 60 s, well over a join and a fence.
        const committed = yield* committedWhen(groupId, name, (c) => c.get(0) === 10, 250)
        const took = Date.now() - started
        const values = yield* Effect.tryPromise(() => readCommitted(brokers, out, 1, 10))
        yield* Fiber.interrupt(running)
        expect(committed.get(0), `committed after ${took} ms`).toBe(10)
        expect(values.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `0:${i}`).sort())
      }).pipe(Effect.provide(cluster)),
    120_000
  )

  it.effect("bad transactional settings fail with a SettingsError naming the field", () =>
    Effect.gen(function* () {
      const long = yield* Effect.scoped(
        ConfluentTransactional.make({ brokers }, { transactionTimeout: "1 hour" })
      ).pipe(Effect.flip)
      expect(long).toMatchObject({ _tag: "SettingsError", setting: "transactionTimeout" })
      const negative = yield* Effect.scoped(
        ConfluentTransactional.make({ brokers }, { transactionTimeout: -5 as never })
      ).pipe(Effect.flip)
      expect(negative).toMatchObject({ _tag: "SettingsError", setting: "transactionTimeout" })
      const id = yield* Effect.scoped(
        ConfluentTransactional.make({ brokers, librdkafka: { "transactional.id": "mine" } })
      ).pipe(Effect.flip)
      expect(id).toMatchObject({ _tag: "SettingsError", setting: 'librdkafka["transactional.id"]' })
    })
  )
})
