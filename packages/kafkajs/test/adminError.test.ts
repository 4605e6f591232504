import { describe, expect, it } from "@effect/vitest"
import * as Admin from "@sluice/core/Admin"
import { commitFromOutsideRefusals, toAdminError } from "../src/internal/adminError.js"

// The translation reads errors by shape: plain objects shaped like kafkajs's errors will do.
const broker = (type: string) => ({ name: "KafkaJSProtocolError", message: `broker said ${type}`, type })
const aggregate = (...errors: Array<unknown>) => ({
  name: "KafkaJSAggregateError",
  message: "Topic creation errors",
  errors
})
const retriesExceeded = (cause: unknown) => ({ name: "KafkaJSNumberOfRetriesExceeded", message: "gave up", cause })

describe("toAdminError", () => {
  const cases: ReadonlyArray<[string, unknown, Admin.AdminErrorReason]> = [
    ["a topic that exists", aggregate(broker("TOPIC_ALREADY_EXISTS")), "TopicExists"],
    ["an unknown topic after retries", retriesExceeded(broker("UNKNOWN_TOPIC_OR_PARTITION")), "UnknownTopic"],
    ["an unknown group", broker("GROUP_ID_NOT_FOUND"), "UnknownGroup"],
    ["a group with members", broker("NON_EMPTY_GROUP"), "GroupNotEmpty"],
    ["a replication factor above the brokers", aggregate(broker("INVALID_REPLICATION_FACTOR")), "InvalidArgument"],
    ["an unknown config", aggregate(broker("INVALID_CONFIG")), "InvalidArgument"],
    ["a denied topic", broker("TOPIC_AUTHORIZATION_FAILED"), "Unauthorized"],
    ["a SASL failure", { name: "KafkaJSSASLAuthenticationError", message: "bad password" }, "Unauthorized"],
    ["a coordinator that moved", broker("NOT_COORDINATOR_FOR_GROUP"), "Connection"],
    [
      "a refused connection",
      retriesExceeded({ name: "KafkaJSConnectionError", message: "connect ECONNREFUSED", code: "ECONNREFUSED" }),
      "Connection"
    ],
    ["a request timeout", { name: "KafkaJSRequestTimeoutError", message: "timed out" }, "Timeout"],
    ["anything else", new Error("boom"), "Unknown"]
  ]
  for (const [title, error, reason] of cases) {
    it(`${title}: ${reason}`, () => {
      const translated = toAdminError(error, "KafkaJsAdmin.op")
      expect(translated).toBeInstanceOf(Admin.AdminError)
      expect(translated).toMatchObject({ reason, operation: "KafkaJsAdmin.op", cause: error })
      expect(translated.message.startsWith("KafkaJsAdmin.op: ")).toBe(true)
    })
  }

  it("a commit from outside a live group is refused as an unknown member: GroupNotEmpty there only", () => {
    const refused = broker("UNKNOWN_MEMBER_ID")
    expect(toAdminError(refused, "op", commitFromOutsideRefusals).reason).toBe("GroupNotEmpty")
    expect(toAdminError(refused, "op").reason).toBe("Unknown")
  })

  it("an AdminError passes through unchanged", () => {
    const error = Admin.makeError({ reason: "UnknownTopic", operation: "op", message: "gone" })
    expect(toAdminError(error, "other")).toBe(error)
  })
})
