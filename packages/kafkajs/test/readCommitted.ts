/**
 * Reads a topic back as a `read_committed` consumer would see it: what committed transactions
 * wrote, nothing of the aborted or open ones. Shared by the exactly-once tests.
 */
import { poll, sleep } from "@sluice/testkit/ProcessHarness"
import { Kafka, logLevel } from "kafkajs"

/**
 * Every value of `topic` a `read_committed` consumer sees, from the start, once `expected` values
 * arrived or 30 s passed, and a second more (a duplicate would arrive then).
 */
export const readCommitted = async (
  brokers: ReadonlyArray<string>,
  topic: string,
  expected: number
): Promise<Array<string>> => {
  const kafka = new Kafka({ clientId: "sluice-read-committed", brokers: [...brokers], logLevel: logLevel.NOTHING })
  const consumer = kafka.consumer({ groupId: `${topic}-reader-${Date.now()}`, readUncommitted: false })
  const values: Array<string> = []
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachBatch: async ({ batch }) => void values.push(...batch.messages.map((m) => m.value!.toString()))
    })
    await poll(() => values.length >= expected, 30_000)
    await sleep(1000)
  } finally {
    await consumer.disconnect()
  }
  return values
}
