/**
 * Reads a topic back as a `read_committed` consumer would see it: what committed transactions
 * wrote, nothing of the aborted or open ones. Shared by the exactly-once tests.
 */
import {
  makeConsumer,
  makeProducer,
  type NativeError,
  type NativeMessage,
  type NativeTransactionalProducer
} from "../src/internal/native.js"

/**
 * Every value of `topic` (all of its `partitions`, from the start) a `read_committed` consumer
 * sees, once `expected` values arrived or 30 s passed, and a second more (a duplicate would
 * arrive then).
 */
export const readCommitted = async (
  brokers: ReadonlyArray<string>,
  topic: string,
  partitions: number,
  expected: number
): Promise<Array<string>> => {
  const consumer = makeConsumer(
    {
      "bootstrap.servers": brokers.join(","),
      "client.id": "sluice-read-committed",
      log_level: 3,
      "group.id": `${topic}-reader`,
      "enable.auto.commit": false,
      "isolation.level": "read_committed"
    },
    { "auto.offset.reset": "earliest" }
  )
  await new Promise<void>((resolve, reject) =>
    consumer.connect({ timeout: 10_000 }, (error) => (error ? reject(error) : resolve()))
  )
  try {
    consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0 })))
    consumer.setDefaultConsumeTimeout(100)
    const values: Array<string> = []
    const consume = () =>
      new Promise<ReadonlyArray<NativeMessage>>((resolve, reject) =>
        consumer.consume(1000, (error, messages) => (error ? reject(error) : resolve(messages)))
      )
    const deadline = Date.now() + 30_000
    while (values.length < expected && Date.now() < deadline) {
      for (const m of await consume()) values.push(m.value?.toString() ?? "")
    }
    const grace = Date.now() + 1000
    while (Date.now() < grace) for (const m of await consume()) values.push(m.value?.toString() ?? "")
    return values
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()))
  }
}

const settle = (call: (done: (error: NativeError | null) => void) => void) =>
  new Promise<void>((resolve, reject) => call((error) => (error ? reject(error) : resolve())))

/**
 * A crashed exactly-once owner's state on the broker: a transaction of `transactionalId` that
 * wrote one record to `out` and the group's offset 5 of `topic`'s partition 0, left open (60 s
 * timeout). Returns what closes its clients at the end of the test.
 */
export const openTransaction = async (
  brokers: ReadonlyArray<string>,
  transactionalId: string,
  groupId: string,
  topic: string,
  out: string
): Promise<() => Promise<void>> => {
  const servers = brokers.join(",")
  const group = makeConsumer(
    { "bootstrap.servers": servers, log_level: 0, "group.id": groupId, "enable.auto.commit": false },
    {}
  )
  const producer = makeProducer({
    "bootstrap.servers": servers,
    log_level: 0,
    "transactional.id": transactionalId,
    "transaction.timeout.ms": 60_000
  }) as NativeTransactionalProducer
  await settle((done) => group.connect({ timeout: 10_000 }, done))
  await settle((done) => producer.connect({ timeout: 10_000 }, done))
  producer.setPollInBackground(true)
  await settle((done) => producer.initTransactions(10_000, done))
  await settle((done) => producer.beginTransaction(done))
  producer.produce(out, 0, Buffer.from("zombie"), null, null, undefined, undefined)
  await settle((done) => producer.flush(10_000, done))
  await settle((done) => producer.sendOffsetsToTransaction([{ topic, partition: 0, offset: 5 }], group, 10_000, done))
  return async () => {
    await new Promise<void>((resolve) => producer.disconnect(() => resolve()))
    await new Promise<void>((resolve) => group.disconnect(() => resolve()))
  }
}
