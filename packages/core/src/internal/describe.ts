/**
 * How Sluice names an error and a record in its error messages, logs and dead-letter headers:
 * written once, so that they read alike everywhere.
 */
import * as TP from "../TopicPartition.js"

/**
 * An error as text: `Tag: message` for a tagged error with a message, else whichever of the two
 * it has; anything else through `String`.
 */
export const describe = (error: unknown): string => {
  if (typeof error === "object" && error !== null) {
    const e = error as { _tag?: unknown; message?: unknown }
    const tag = typeof e._tag === "string" ? e._tag : undefined
    const message = typeof e.message === "string" ? e.message : undefined
    if (tag !== undefined && message !== undefined && message !== "") return `${tag}: ${message}`
    if (tag !== undefined) return tag
    if (message !== undefined) return message
  }
  return String(error)
}

/** A record's position: `topic-partition@offset`. */
export const position = (record: {
  readonly topic: string
  readonly partition: number
  readonly offset: number
}): string => `${TP.format(record)}@${record.offset}`
