/**
 * Translates the client's failures of admin requests into the admin port's `AdminError`:
 * librdkafka's error code decides where it names one the port has a reason for; otherwise the
 * driver's `KafkaError` translation does (connection, timeout, authentication), and its message
 * is kept. Codes are Kafka's protocol numbers (`lib/error.js`).
 */
import * as Admin from "@sluice/core/Admin"
import { codeOf, codes, toKafkaError } from "../ConfluentError.js"

const byCode: ReadonlyMap<number, Admin.AdminErrorReason> = new Map([
  [36, "TopicExists"], // TOPIC_ALREADY_EXISTS
  [codes.unknownTopicOrPartition, "UnknownTopic"],
  [-188, "UnknownTopic"], // librdkafka's own UNKNOWN_TOPIC
  [69, "UnknownGroup"], // GROUP_ID_NOT_FOUND
  [68, "GroupNotEmpty"], // NON_EMPTY_GROUP
  // INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR,
  // INVALID_REPLICA_ASSIGNMENT, INVALID_CONFIG, INVALID_REQUEST, INVALID_TIMESTAMP,
  // POLICY_VIOLATION, INVALID_GROUP_ID, INVALID_COMMIT_OFFSET_SIZE, OFFSET_METADATA_TOO_LARGE,
  // and librdkafka's INVALID_ARG.
  ...[17, 37, 38, 39, 40, 42, 32, 44, 24, 28, 12, -186].map((code) => [code, "InvalidArgument"] as const),
  // TOPIC, GROUP and CLUSTER_AUTHORIZATION_FAILED.
  ...[29, 30, 31].map((code) => [code, "Unauthorized"] as const),
  // The coordinator or controller moved or is not up yet: unreachable for now (LEADER_NOT_AVAILABLE,
  // NOT_CONTROLLER, BROKER_NOT_AVAILABLE besides the coordinator's).
  ...[codes.coordinatorLoadInProgress, codes.coordinatorNotAvailable, codes.notCoordinator, 5, 41, 8].map(
    (code) => [code, "Connection"] as const
  )
])

/**
 * A commit from outside the group is refused with these while the group has members (Kafka's
 * `validateOffsetCommit` of classic and consumer groups).
 */
export const commitFromOutsideRefusals: ReadonlyMap<number, Admin.AdminErrorReason> = new Map([
  [codes.unknownMemberId, "GroupNotEmpty"],
  [codes.illegalGeneration, "GroupNotEmpty"],
  [codes.rebalanceInProgress, "GroupNotEmpty"],
  [codes.staleMemberEpoch, "GroupNotEmpty"],
  [codes.fencedMemberEpoch, "GroupNotEmpty"]
])

/**
 * Translates a failure of `operation`; `overrides` give error codes a reason for this
 * operation only.
 */
export const toAdminError = (
  error: unknown,
  operation: string,
  overrides?: ReadonlyMap<number, Admin.AdminErrorReason>
): Admin.AdminError => {
  if (error instanceof Admin.AdminError) return error
  const kafkaError = toKafkaError(error, operation)
  const code = codeOf(error)
  const reason = code === undefined ? undefined : (overrides?.get(code) ?? byCode.get(code))
  return Admin.fromKafkaError(kafkaError, { reason, operation, cause: error })
}
