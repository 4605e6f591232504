/**
 * Workload 1, contestant: the librdkafka client's own fastest safe loop, hand-written on its
 * native API (the one `@sluice/confluent` is built on): `consume(4000)` in a loop, each
 * record handled by a no-op handler, then the batch's next offsets committed per partition
 * before the next `consume` (auto-commit and auto offset store off): at-least-once, nothing
 * committed before it was handled. 4,000 is its fastest batch, measured alternating on a
 * quiet machine (load 1.0–1.7): 308–316 k records/s with 1,000, 318–324 k with 2,000,
 * 319–326 k with 4,000, 306–325 k with 8,000; it is the driver's default `batchSize` too. It fetches as the Sluice driver does by default: a partition
 * whose prefetch queue is full waits 100 ms for its next fetch (`fetch.queue.backoff.ms`), not
 * librdkafka's 1 s, which held this loop at 160,000 records/s against 226,000 (so the loop is
 * the fastest the client gives, and the ratio compares like with like).
 */
import { RdKafka } from "@confluentinc/kafka-javascript"
import { args, brokers, die, emit } from "../lib/common.js"
import { type ContestantArgs, type ContestantResult, Tally } from "./contestant.js"

const { groupId, records, topic } = args<ContestantArgs>()
const batchSize = 4000

interface Message {
  readonly topic: string
  readonly partition: number
  readonly offset: number
}

/** The user's handler: does nothing, asynchronously, as a real one would. */
const handle = async (_message: Message): Promise<void> => {}

const main = async (): Promise<ContestantResult> => {
  const tally = new Tally(records, () => undefined)
  const consumer = new RdKafka.KafkaConsumer(
    {
      "bootstrap.servers": brokers.join(","),
      "client.id": "sluice-bench-confluent",
      "group.id": groupId,
      "enable.auto.commit": false,
      "enable.auto.offset.store": false,
      log_level: 0,
      "fetch.queue.backoff.ms": 100
    },
    { "auto.offset.reset": "earliest" }
  )
  await new Promise<void>((resolve, reject) => consumer.connect({}, (error) => (error ? reject(error) : resolve())))
  consumer.subscribe([topic])
  consumer.setDefaultConsumeTimeout(100)
  while (tally.count < records) {
    const batch = await new Promise<Array<Message>>((resolve, reject) =>
      consumer.consume(batchSize, (error, messages) => (error ? reject(error) : resolve(messages as Array<Message>)))
    )
    if (batch.length === 0) continue
    tally.received()
    const next = new Map<string, { topic: string; partition: number; offset: number }>()
    for (const message of batch) {
      await handle(message)
      next.set(`${message.topic}:${message.partition}`, {
        topic: message.topic,
        partition: message.partition,
        offset: message.offset + 1
      })
      tally.handled()
    }
    consumer.commit([...next.values()])
  }
  await new Promise<void>((resolve) => consumer.disconnect(() => resolve()))
  return tally.report(groupId, topic)
}

main().then(emit, die)
