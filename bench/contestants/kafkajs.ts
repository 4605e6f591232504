/**
 * Workload 1, contestant (a): raw kafkajs, the hand-written safe loop. `eachBatch` handles
 * each record with a no-op handler, resolves its offset, and commits the batch's offsets
 * explicitly before the next batch (auto-commit off): at-least-once, nothing committed
 * before it was handled. Its fetch responses are as large as Sluice's kafkajs driver's by
 * default (`maxBytes` 1 MiB, not kafkajs's 10 MiB), so that the memory comparison is like
 * for like: this loop peaks at about 150 MB with 1 MiB, 175 MB with 4 MiB and 250 MB with
 * 10 MiB. (It suffers less than Sluice from large responses only because it waits for a
 * commit after every batch, which lets V8 finish its markings on the event loop.)
 */
import type { KafkaMessage } from "kafkajs"
import { args, die, emit } from "../lib/common.js"
import { kafka } from "../lib/kafka.js"
import { type ContestantArgs, type ContestantResult, Tally } from "./contestant.js"

const { groupId, records, topic } = args<ContestantArgs>()

/** The user's handler: does nothing, asynchronously, as a real one would. */
const handle = async (_message: KafkaMessage): Promise<void> => {}

const main = async (): Promise<ContestantResult> => {
  let resolveDone: () => void = () => {}
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve
  })
  const tally = new Tally(records, () => resolveDone())
  const consumer = kafka("sluice-bench-kafkajs").consumer({ groupId, maxBytes: 1024 * 1024 })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
      if (batch.messages.length > 0) tally.received()
      let next: string | undefined
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) break
        await handle(message)
        resolveOffset(message.offset)
        next = message.offset
        tally.handled()
      }
      if (next !== undefined) {
        await consumer.commitOffsets([
          { topic: batch.topic, partition: batch.partition, offset: String(BigInt(next) + 1n) }
        ])
      }
      await heartbeat()
    }
  })
  await done
  await consumer.disconnect()
  return tally.report(groupId, topic)
}

main().then(emit, die)
