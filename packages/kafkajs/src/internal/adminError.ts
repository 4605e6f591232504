/**
 * Translates kafkajs failures of admin requests into the admin port's `AdminError`: the
 * broker's error type decides where it names one the port has a reason for; otherwise the
 * driver's `KafkaError` translation does (connection, timeout, authentication), and its
 * message is kept.
 */
import * as Admin from "@sluice/core/Admin"
import { toKafkaError } from "../KafkaJsError.js"
import { chain, str } from "./errorChain.js"

const invalidArgument = [
  "INVALID_TOPIC_EXCEPTION",
  "INVALID_PARTITIONS",
  "INVALID_REPLICATION_FACTOR",
  "INVALID_REPLICA_ASSIGNMENT",
  "INVALID_CONFIG",
  "INVALID_REQUEST",
  "INVALID_TIMESTAMP",
  "POLICY_VIOLATION",
  "INVALID_GROUP_ID",
  "INVALID_COMMIT_OFFSET_SIZE",
  "OFFSET_METADATA_TOO_LARGE"
]

const unauthorized = [
  "TOPIC_AUTHORIZATION_FAILED",
  "GROUP_AUTHORIZATION_FAILED",
  "CLUSTER_AUTHORIZATION_FAILED",
  "SASL_AUTHENTICATION_FAILED"
]

// The coordinator or controller moved or is not up yet: unreachable for now.
const unavailable = [
  "NOT_COORDINATOR_FOR_GROUP",
  "GROUP_COORDINATOR_NOT_AVAILABLE",
  "GROUP_LOAD_IN_PROGRESS",
  "NOT_CONTROLLER",
  "LEADER_NOT_AVAILABLE",
  // A partition's leader moved (or a new topic's leader is not known everywhere yet).
  "NOT_LEADER_FOR_PARTITION",
  "BROKER_NOT_AVAILABLE"
]

const byType: ReadonlyMap<string, Admin.AdminErrorReason> = new Map([
  ["TOPIC_ALREADY_EXISTS", "TopicExists"],
  ["UNKNOWN_TOPIC_OR_PARTITION", "UnknownTopic"],
  ["GROUP_ID_NOT_FOUND", "UnknownGroup"],
  ["NON_EMPTY_GROUP", "GroupNotEmpty"],
  ...invalidArgument.map((type) => [type, "InvalidArgument"] as const),
  ...unauthorized.map((type) => [type, "Unauthorized"] as const),
  ...unavailable.map((type) => [type, "Connection"] as const)
])

/**
 * A commit from outside the group is refused with these while the group has members
 * (Kafka's `ClassicGroup.validateOffsetCommit`).
 */
export const commitFromOutsideRefusals: ReadonlyMap<string, Admin.AdminErrorReason> = new Map([
  ["UNKNOWN_MEMBER_ID", "GroupNotEmpty"],
  ["ILLEGAL_GENERATION", "GroupNotEmpty"],
  ["REBALANCE_IN_PROGRESS", "GroupNotEmpty"]
])

/**
 * Translates a kafkajs failure of `operation`; `overrides` give broker error types a reason
 * for this operation only.
 */
export const toAdminError = (
  error: unknown,
  operation: string,
  overrides?: ReadonlyMap<string, Admin.AdminErrorReason>
): Admin.AdminError => {
  if (error instanceof Admin.AdminError) return error
  const kafkaError = toKafkaError(error, operation)
  let reason: Admin.AdminErrorReason | undefined
  for (const e of chain(error)) {
    const type = str(e.type)
    if (type === undefined) continue
    reason = overrides?.get(type) ?? byType.get(type)
    if (reason !== undefined) break
  }
  return Admin.fromKafkaError(kafkaError, { reason, operation, cause: error })
}
