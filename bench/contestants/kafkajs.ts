/**
 * Workload 1, contestant (a): raw kafkajs, the hand-written safe loop (`lib/rawKafkajsLoop.ts`)
 * with a no-op handler awaited for each record.
 */
import type { KafkaMessage } from "kafkajs"
import { args, die, emit } from "../lib/common.js"
import { type HandleBatch, rawKafkajsLoop } from "../lib/rawKafkajsLoop.js"
import type { ContestantArgs } from "./contestant.js"

/** The user's handler: does nothing, asynchronously, as a real one would. */
const handle = async (_message: KafkaMessage): Promise<void> => {}

const handleBatch: HandleBatch = async ({ going, messages, resolveOffset, tally }) => {
  let next: string | undefined
  for (const message of messages) {
    if (!going()) break
    await handle(message)
    resolveOffset(message.offset)
    next = message.offset
    tally.handled()
  }
  return next
}

rawKafkajsLoop(args<ContestantArgs>(), "sluice-bench-kafkajs", handleBatch).then(emit, die)
