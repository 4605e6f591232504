import { describe, expect, it } from "@effect/vitest"
import * as KafkaError from "@sluice/core/KafkaError"
import {
  KafkaJSConnectionError,
  KafkaJSError,
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSLockTimeout,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSRequestTimeoutError,
  KafkaJSSASLAuthenticationError
} from "kafkajs"
import { isFenced, toKafkaError } from "../src/KafkaJsError.js"

// kafkajs's declarations leave out most constructor parameters.
const build = (ctor: unknown, ...args: Array<unknown>): Error =>
  new (ctor as new (...args: Array<unknown>) => Error)(...args)

// Protocol errors as kafkajs builds them from a broker's error code (`protocol/error.js`).
const protocol = (type: string, retriable: boolean) =>
  new KafkaJSProtocolError({ message: `broker said ${type}`, type, code: 0, retriable } as never)

// What kafkajs's retrier throws once it gives up (`retry/index.js:46-56`).
const exhausted = (cause: Error) => build(KafkaJSNumberOfRetriesExceeded, cause, { retryCount: 4, retryTime: 2000 })
const bailed = (cause: Error) => build(KafkaJSNonRetriableError, cause, { cause })

describe("toKafkaError", () => {
  it("connection: a refused connection that ran out of retries", () => {
    const error = toKafkaError(
      exhausted(
        build(KafkaJSConnectionError, "Connection error: connect ECONNREFUSED 127.0.0.1:1", { code: "ECONNREFUSED" })
      ),
      "op"
    )
    expect(error).toBeInstanceOf(KafkaError.KafkaError)
    expect(error.reason).toBe("connection")
    expect(error.retriable).toBe(true)
    expect(error.operation).toBe("op")
    expect(error.message).toContain("ECONNREFUSED")
  })

  it("connection: no broker available, coordinator not found, raw socket errors", () => {
    const noBroker = Object.assign(new KafkaJSError("No broker available"), { name: "KafkaJSNoBrokerAvailableError" })
    expect(toKafkaError(noBroker, "op").reason).toBe("connection")
    expect(toKafkaError(build(KafkaJSGroupCoordinatorNotFound, "Failed to find group coordinator"), "op").reason).toBe(
      "connection"
    )
    const socket = Object.assign(new Error("getaddrinfo ENOTFOUND nowhere"), { code: "ENOTFOUND" })
    expect(toKafkaError(socket, "op").reason).toBe("connection")
  })

  it("authentication: SASL rejected, never retriable", () => {
    const error = toKafkaError(build(KafkaJSSASLAuthenticationError, "SASL PLAIN authentication failed"), "op")
    expect(error.reason).toBe("authentication")
    expect(error.retriable).toBe(false)
    expect(toKafkaError(protocol("SASL_AUTHENTICATION_FAILED", false), "op").reason).toBe("authentication")
  })

  it.each(["REBALANCE_IN_PROGRESS", "ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID", "FENCED_INSTANCE_ID"])(
    "rebalance: %s, also wrapped by kafkajs's retrier, never retriable",
    (type) => {
      const plain = toKafkaError(protocol(type, false), "op")
      expect(plain.reason).toBe("rebalance")
      expect(plain.retriable).toBe(false)
      const wrapped = toKafkaError(bailed(protocol(type, false)), "KafkaJsDriver.commit", { commit: true })
      expect(wrapped.reason).toBe("rebalance")
      expect(wrapped.retriable).toBe(false)
      expect(wrapped.message).toContain(type)
    }
  )

  it("protocol: UNKNOWN_TOPIC_OR_PARTITION keeps kafkajs's retriable flag through the retrier", () => {
    const error = toKafkaError(exhausted(protocol("UNKNOWN_TOPIC_OR_PARTITION", true)), "op")
    expect(error.reason).toBe("protocol")
    expect(error.retriable).toBe(true)
    expect(error.message).toContain("UNKNOWN_TOPIC_OR_PARTITION")
    expect(toKafkaError(protocol("TOPIC_AUTHORIZATION_FAILED", false), "op")).toMatchObject({
      reason: "protocol",
      retriable: false
    })
  })

  it("timeout: request and lock timeouts and REQUEST_TIMED_OUT, always retriable", () => {
    expect(
      toKafkaError(new KafkaJSRequestTimeoutError("Request Produce(key: 0, version: 7) timed out"), "op")
    ).toMatchObject({ reason: "timeout", retriable: true })
    expect(toKafkaError(build(KafkaJSLockTimeout, "Timeout while acquiring lock"), "op")).toMatchObject({
      reason: "timeout",
      retriable: true
    })
    expect(toKafkaError(exhausted(protocol("REQUEST_TIMED_OUT", true)), "op")).toMatchObject({
      reason: "timeout",
      retriable: true
    })
  })

  it("commit: other failures of a commit", () => {
    const tooLarge = toKafkaError(bailed(protocol("OFFSET_METADATA_TOO_LARGE", false)), "c", { commit: true })
    expect(tooLarge).toMatchObject({ reason: "commit", retriable: false })
    const notCoordinator = toKafkaError(exhausted(protocol("NOT_COORDINATOR_FOR_GROUP", true)), "c", { commit: true })
    expect(notCoordinator).toMatchObject({ reason: "commit", retriable: true })
    const notRunning = toKafkaError(
      new KafkaJSNonRetriableError("Consumer group was not initialized, consumer#run must be called first"),
      "c",
      { commit: true }
    )
    expect(notRunning).toMatchObject({ reason: "commit", retriable: false })
    // A commit that could not reach the coordinator is a connection problem, worth retrying.
    expect(
      toKafkaError(exhausted(new KafkaJSConnectionError("Connection timeout")), "c", { commit: true })
    ).toMatchObject({ reason: "connection", retriable: true })
  })

  it("unknown: anything else, with the original cause", () => {
    const cause = new TypeError("boom")
    const error = toKafkaError(cause, "op")
    expect(error).toMatchObject({ reason: "unknown", retriable: false })
    expect(error.cause).toBe(cause)
    expect(toKafkaError("a string", "op").reason).toBe("unknown")
    expect(toKafkaError(undefined, "op").reason).toBe("unknown")
  })

  it("the most telling reason of a chain wins", () => {
    // A connection dropped, kafkajs retried, and the retry was refused: it is a rebalance.
    const chain = bailed(
      Object.assign(protocol("ILLEGAL_GENERATION", false), { cause: new KafkaJSConnectionError("x") })
    )
    expect(toKafkaError(chain, "op").reason).toBe("rebalance")
  })

  it("a KafkaError passes through; cyclic causes do not hang", () => {
    const original = KafkaError.make({ reason: "timeout", operation: "x", message: "y", retriable: true })
    expect(toKafkaError(original, "op")).toBe(original)
    const a: { name: string; message: string; cause?: unknown } = { name: "A", message: "a" }
    a.cause = { name: "B", message: "b", cause: a }
    expect(toKafkaError(a, "op").reason).toBe("unknown")
  })
})

describe("isFenced", () => {
  it("is true for a stale generation or an unknown member anywhere in the chain, not for a rebalance", () => {
    expect(isFenced(bailed(protocol("UNKNOWN_MEMBER_ID", false)))).toBe(true)
    expect(isFenced(protocol("ILLEGAL_GENERATION", false))).toBe(true)
    expect(isFenced(protocol("REBALANCE_IN_PROGRESS", false))).toBe(false)
    expect(isFenced(new Error("x"))).toBe(false)
  })
})
