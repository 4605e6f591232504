import { describe, expect, it } from "@effect/vitest"
import * as KafkaError from "@sluice/core/KafkaError"
import { codes, isFatal, isFenced, toKafkaError } from "../src/ConfluentError.js"

// What the client hands to callbacks: a LibrdKafkaError (`lib/error.js`) with librdkafka's code.
const librdkafka = (code: number, message = `error ${code}`, extra: object = {}) =>
  Object.assign(new Error(message), { code, errno: code, origin: code < 0 ? "local" : "kafka" }, extra)

describe("toKafkaError", () => {
  it.each([
    [codes.transport, "connection", true],
    [codes.allBrokersDown, "connection", true],
    [codes.coordinatorNotAvailable, "connection", true],
    [codes.timedOut, "timeout", true],
    [codes.requestTimedOut, "timeout", true],
    [codes.authentication, "authentication", false],
    [codes.saslAuthenticationFailed, "authentication", false],
    [codes.rebalanceInProgress, "rebalance", false],
    [codes.illegalGeneration, "rebalance", false],
    [codes.unknownMemberId, "rebalance", false],
    [codes.fencedInstanceId, "rebalance", false],
    [codes.fencedMemberEpoch, "rebalance", false],
    [codes.staleMemberEpoch, "rebalance", false],
    [codes.unknownTopicOrPartition, "protocol", false],
    [codes.state, "unknown", false]
  ] as const)("librdkafka %i is %s (retriable: %s)", (code, reason, retriable) => {
    const error = toKafkaError(librdkafka(code), "op")
    expect(error).toBeInstanceOf(KafkaError.KafkaError)
    expect(error).toMatchObject({ reason, retriable, operation: "op" })
    expect(error.message).toContain(`[librdkafka ${code}]`)
  })

  it("the client's own retriable flag wins for protocol errors; fatal errors never retry", () => {
    expect(toKafkaError(librdkafka(codes.unknownTopicOrPartition, "x", { isRetriable: true }), "op").retriable).toBe(
      true
    )
    expect(toKafkaError(librdkafka(codes.transport, "x", { isFatal: true }), "op").retriable).toBe(false)
  })

  it("a commit's protocol or unknown failure is a commit error; rebalance stays rebalance", () => {
    expect(toKafkaError(librdkafka(codes.offsetMetadataTooLarge), "op", { commit: true }).reason).toBe("commit")
    expect(toKafkaError(librdkafka(codes.illegalGeneration), "op", { commit: true }).reason).toBe("rebalance")
  })

  it("plain errors and bare codes", () => {
    expect(toKafkaError(new Error("KafkaConsumer is disconnected"), "op")).toMatchObject({ reason: "unknown" })
    expect(toKafkaError(codes.transport, "op").reason).toBe("connection")
    const already = KafkaError.make({ reason: "timeout", operation: "x", message: "m" })
    expect(toKafkaError(already, "op")).toBe(already)
  })

  it("fenced and fatal", () => {
    expect(isFenced(librdkafka(codes.fencedMemberEpoch))).toBe(true)
    expect(isFenced(librdkafka(codes.rebalanceInProgress))).toBe(false)
    expect(isFatal(librdkafka(codes.fatal))).toBe(true)
    expect(isFatal(librdkafka(codes.transport))).toBe(false)
  })
})
