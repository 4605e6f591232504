/**
 * Reads a topic back as a `read_committed` consumer would see it: what committed transactions
 * wrote, nothing of the aborted or open ones. Shared by the exactly-once tests.
 */
import { makeConsumer, type NativeMessage } from "../src/internal/native.js"

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
