/**
 * The peak-RSS ladder's batch handling (`contestants/kafkajs-effect*.ts`): contestant (a)'s
 * loop, but each batch runs as one Effect program and each record's no-op handler as an
 * Effect, the way an Effect user would write the loop by hand. What it adds to (a)'s peak
 * RSS is Effect's runtime being loaded and running, with nothing of Sluice.
 */
import * as Effect from "effect/Effect"
import type { KafkaMessage } from "kafkajs"
import type { HandleBatch } from "./rawKafkajsLoop.js"

/** The user's handler: does nothing, as an Effect. */
const handle = (_message: KafkaMessage): Effect.Effect<void> => Effect.void

export const effectBatch: HandleBatch = ({ going, messages, resolveOffset, tally }) =>
  Effect.runPromise(
    Effect.gen(function* () {
      let next: string | undefined
      for (const message of messages) {
        if (!going()) break
        yield* handle(message)
        resolveOffset(message.offset)
        next = message.offset
        tally.handled()
      }
      return next
    })
  )
