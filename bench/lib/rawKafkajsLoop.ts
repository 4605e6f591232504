/**
 * Workload 1's hand-written kafkajs loop, shared by contestant (a) and the two rungs of the
 * peak-RSS ladder that run the same loop through Effect (`contestants/kafkajs-effect*.ts`):
 * `eachBatch` handles the batch's records, resolving each one's offset, then commits the
 * batch's offsets explicitly before the next batch (auto-commit off): at-least-once, nothing
 * committed before it was handled.
 *
 * Its fetch responses are as large as Sluice's kafkajs driver's by default (`maxBytes` 1 MiB,
 * not kafkajs's 10 MiB), so that the memory comparison is like for like: this loop peaks at
 * about 150 MB with 1 MiB, 175 MB with 4 MiB and 250 MB with 10 MiB. (It suffers less than
 * Sluice from large responses only because it waits for a commit after every batch, which
 * lets V8 finish its markings on the event loop.)
 */
import type { EachBatchPayload, KafkaMessage } from "kafkajs"
import { type ContestantArgs, type ContestantResult, Tally } from "../contestants/contestant.js"
import { kafka } from "./kafka.js"

/** What the loop lends a batch's handling: the batch's controls and the run's tally. */
export interface BatchControls {
  readonly messages: ReadonlyArray<KafkaMessage>
  /** Whether to go on: false once kafkajs stops or the batch went stale (a rebalance). */
  readonly going: () => boolean
  readonly resolveOffset: (offset: string) => void
  readonly tally: Tally
}

/** Handles a batch's records in order; resolves to the last offset handled, if any. */
export type HandleBatch = (controls: BatchControls) => Promise<string | undefined>

export const rawKafkajsLoop = async (
  { groupId, records, topic }: ContestantArgs,
  clientId: string,
  handleBatch: HandleBatch
): Promise<ContestantResult> => {
  let resolveDone: () => void = () => {}
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve
  })
  const tally = new Tally(records, () => resolveDone())
  const consumer = kafka(clientId).consumer({ groupId, maxBytes: 1024 * 1024 })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload) => {
      if (batch.messages.length > 0) tally.received()
      const next = await handleBatch({
        messages: batch.messages,
        going: () => isRunning() && !isStale(),
        resolveOffset,
        tally
      })
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
