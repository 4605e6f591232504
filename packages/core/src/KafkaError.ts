/**
 * The error vocabulary of the driver ports. A driver translates its client's failures into
 * these; the engine and users match on `reason`, never on a client's exception classes.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * Why a Kafka operation failed.
 *
 * - `connection`: the brokers could not be reached or the connection dropped.
 * - `authentication`: SASL/TLS rejected the client.
 * - `commit`: an offset commit was refused for a reason that is not a rebalance.
 * - `rebalance`: the group is rebalancing, or this member was fenced (stale generation,
 *   unknown member): the member no longer owns what it thinks it owns.
 * - `timeout`: the operation did not complete in time.
 * - `protocol`: the broker answered with an error (unknown topic, invalid request, …).
 * - `unknown`: anything else, with the original `cause`.
 *
 * @since 0.1.0
 */
export type KafkaErrorReason =
  | "connection"
  | "authentication"
  | "commit"
  | "rebalance"
  | "timeout"
  | "protocol"
  | "unknown"

/**
 * A failed Kafka operation. `retriable` tells whether trying again may succeed (the driver
 * knows its client's retriable errors; the committer retries only those).
 *
 * @since 0.1.0
 */
export class KafkaError extends Data.TaggedError("KafkaError")<{
  readonly reason: KafkaErrorReason
  readonly operation: string
  readonly message: string
  readonly retriable: boolean
  readonly cause?: unknown
}> {}

/**
 * Builds a `KafkaError`.
 *
 * @since 0.1.0
 */
export const make = (options: {
  readonly reason: KafkaErrorReason
  readonly operation: string
  readonly message: string
  readonly retriable?: boolean
  readonly cause?: unknown
}): KafkaError =>
  new KafkaError({
    reason: options.reason,
    operation: options.operation,
    message: `${options.operation}: ${options.message}`,
    retriable: options.retriable ?? false,
    ...(options.cause === undefined ? {} : { cause: options.cause })
  })

/**
 * Whether a failure of `reason` is worth trying again, given the client's own flag when it
 * set one: never after an `authentication` or `rebalance` failure (the member must rejoin or
 * the credentials change first), always after a `timeout`; otherwise the client's flag, and
 * without one only a `connection` failure. Every driver decides `retriable` this way.
 *
 * @example
 * ```ts
 * import * as KafkaError from "@sluice/core/KafkaError"
 *
 * KafkaError.retriable("connection", undefined) // true
 * KafkaError.retriable("rebalance", true) // false
 * ```
 *
 * @since 0.2.0
 */
export const retriable = (reason: KafkaErrorReason, clientFlag: boolean | undefined): boolean => {
  switch (reason) {
    case "authentication":
    case "rebalance":
      return false
    case "timeout":
      return true
    default:
      return clientFlag ?? reason === "connection"
  }
}
