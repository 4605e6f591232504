/**
 * The admin service's input checks, run before any request: a bad value fails with reason
 * `InvalidArgument`, its path in `field` and the value in the message, on every driver alike.
 * The rules are Kafka's own where it has them (topic names, the wire format's integer sizes).
 */
import * as Effect from "effect/Effect"
import { type AdminError, makeError, type NewTopic, type ResetTarget } from "../../Admin.js"

/** A problem with one value: undefined when there is none. */
type Problem = AdminError | undefined

const show = (value: unknown): string => (typeof value === "string" ? JSON.stringify(value) : String(value))

/** `field must <requirement>, got <value>`. */
export const invalid = (operation: string, field: string, requirement: string, value: unknown): AdminError =>
  makeError({
    reason: "InvalidArgument",
    operation,
    field,
    message: `${field} must ${requirement}, got ${show(value)}`
  })

const require = (operation: string, field: string, value: unknown, ok: boolean, requirement: string): Problem =>
  ok ? undefined : invalid(operation, field, requirement, value)

/** The first problem found, as a failure. */
const firstOf = (problems: Iterable<Problem>): Effect.Effect<void, AdminError> => {
  for (const problem of problems) if (problem !== undefined) return Effect.fail(problem)
  return Effect.void
}

// Kafka's `Topic.validate`: legal characters and a length that fits a file name with a suffix.
const legalTopicName = /^[a-zA-Z0-9._-]{1,249}$/

/** Kafka's `CreateTopics` carries partitions as an int32 and the replication factor as an int16. */
const maxInt32 = 2_147_483_647
const maxInt16 = 32_767

const intIn = (value: unknown, min: number, max: number): boolean =>
  typeof value === "number" && Number.isInteger(value) && value >= min && value <= max

const nonNegativeOffset = (value: unknown): boolean =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0

const topicName = (operation: string, field: string, name: unknown): Problem =>
  require(operation, field, name, typeof name === "string" &&
    legalTopicName.test(name) &&
    name !== "." &&
    name !== "..", "be a topic name of 1 to 249 characters out of a-z A-Z 0-9 . _ - (not . or ..)")

/** Names of topics to delete or describe. */
export const topicNames = (operation: string, names: ReadonlyArray<string>): Effect.Effect<void, AdminError> =>
  firstOf(names.map((name, i) => topicName(operation, `topics[${i}]`, name)))

/** One topic named on its own (`field` is its option's name). */
export const topic = (operation: string, field: string, name: string): Effect.Effect<void, AdminError> =>
  firstOf([topicName(operation, field, name)])

function* newTopicProblems(operation: string, topics: ReadonlyArray<NewTopic>): Generator<Problem> {
  const seen = new Set<string>()
  for (let i = 0; i < topics.length; i++) {
    const t = topics[i]!
    const at = `topics[${i}]`
    yield topicName(operation, `${at}.name`, t.name)
    yield require(operation, `${at}.name`, t.name, !seen.has(t.name), "be named once per call")
    seen.add(t.name)
    if (t.partitions !== undefined) {
      yield require(operation, `${at}.partitions`, t.partitions, intIn(
        t.partitions,
        1,
        maxInt32
      ), "be a positive integer")
    }
    if (t.replicationFactor !== undefined) {
      yield require(operation, `${at}.replicationFactor`, t.replicationFactor, intIn(
        t.replicationFactor,
        1,
        maxInt16
      ), `be an integer from 1 to ${maxInt16}`)
    }
    for (const [name, value] of Object.entries(t.configs ?? {})) {
      yield require(operation, `${at}.configs`, name, name.length > 0, "have non-empty names")
      yield require(operation, `${at}.configs.${name}`, value, typeof value === "string", "be a string")
    }
  }
}

/** Topics to create. */
export const newTopics = (operation: string, topics: ReadonlyArray<NewTopic>): Effect.Effect<void, AdminError> =>
  firstOf(newTopicProblems(operation, topics))

/** A consumer group's id. */
export const groupId = (operation: string, id: string): Effect.Effect<void, AdminError> =>
  firstOf([require(operation, "groupId", id, typeof id === "string" && id.length > 0, "be a non-empty string")])

function* targetProblems(operation: string, to: ResetTarget): Generator<Problem> {
  switch (to._tag) {
    case "Earliest":
    case "Latest":
      return
    case "Timestamp":
      yield require(operation, "to.timestamp", to.timestamp, nonNegativeOffset(
        to.timestamp
      ), "be a time in milliseconds since the epoch (a non-negative integer)")
      return
    case "Offsets": {
      yield require(operation, "to.offsets", to.offsets.length, to.offsets.length > 0, "name at least one partition")
      const seen = new Set<number>()
      for (let i = 0; i < to.offsets.length; i++) {
        const { offset, partition } = to.offsets[i]!
        const at = `to.offsets[${i}]`
        yield require(operation, `${at}.partition`, partition, intIn(partition, 0, maxInt32), "be a partition number")
        yield require(operation, `${at}.partition`, partition, !seen.has(partition), "be named once")
        seen.add(partition)
        yield require(operation, `${at}.offset`, offset, nonNegativeOffset(offset), "be a non-negative integer")
      }
      return
    }
    default:
      yield invalid(operation, "to", "be Admin.earliest, latest, timestamp(…) or offsets(…)", to)
  }
}

/** Where to reset a group. */
export const resetTarget = (operation: string, to: ResetTarget): Effect.Effect<void, AdminError> =>
  firstOf(targetProblems(operation, to))
