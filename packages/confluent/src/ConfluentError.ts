/**
 * Translates the client's failures into the port's `KafkaError`. Every callback error and
 * thrown error of `@confluentinc/kafka-javascript` that the drivers see goes through
 * `toKafkaError`, so the engine and users match on `reason` and `retriable`, never on
 * librdkafka's error codes.
 *
 * The client reports errors as `LibrdKafkaError` objects (`lib/error.js`) with librdkafka's
 * numeric `code`: negative for errors of the client itself (`ERR__…`), positive for the
 * broker's error codes (Kafka's protocol numbering). Some of its calls throw a plain `Error`
 * instead (e.g. "KafkaConsumer is disconnected"), which has no code.
 *
 * @since 0.1.0
 */
import * as KafkaError from "@sluice/core/KafkaError"

/**
 * librdkafka's error codes that the drivers act on (`rdkafka.h`, `rd_kafka_resp_err_t`).
 *
 * @since 0.1.0
 */
export const codes = {
  destroy: -197,
  transport: -195,
  resolve: -193,
  messageTimedOut: -192,
  allBrokersDown: -187,
  timedOut: -185,
  ssl: -181,
  assignPartitions: -175,
  revokePartitions: -174,
  state: -172,
  authentication: -169,
  timedOutQueue: -166,
  fatal: -150,
  maxPollExceeded: -147,
  assignmentLost: -142,
  unknownTopicOrPartition: 3,
  requestTimedOut: 7,
  offsetMetadataTooLarge: 12,
  coordinatorLoadInProgress: 14,
  coordinatorNotAvailable: 15,
  notCoordinator: 16,
  illegalGeneration: 22,
  unknownMemberId: 25,
  rebalanceInProgress: 27,
  topicAuthorizationFailed: 29,
  groupAuthorizationFailed: 30,
  unsupportedSaslMechanism: 33,
  illegalSaslState: 34,
  saslAuthenticationFailed: 58,
  fencedInstanceId: 82,
  fencedMemberEpoch: 110,
  unreleasedInstanceId: 111,
  staleMemberEpoch: 113
} as const

/**
 * Broker errors after which this member is out of its generation (classic) or epoch (KIP-848):
 * whatever it owned is lost, not revoked.
 *
 * @since 0.1.0
 */
export const fencedCodes: ReadonlySet<number> = new Set([
  codes.illegalGeneration,
  codes.unknownMemberId,
  codes.fencedInstanceId,
  codes.fencedMemberEpoch,
  codes.staleMemberEpoch,
  codes.assignmentLost
])

const rebalanceCodes: ReadonlySet<number> = new Set([...fencedCodes, codes.rebalanceInProgress])

const authenticationCodes: ReadonlySet<number> = new Set([
  codes.authentication,
  codes.ssl,
  codes.saslAuthenticationFailed,
  codes.unsupportedSaslMechanism,
  codes.illegalSaslState
])

const connectionCodes: ReadonlySet<number> = new Set([
  codes.transport,
  codes.resolve,
  codes.allBrokersDown,
  codes.destroy,
  codes.coordinatorNotAvailable,
  codes.coordinatorLoadInProgress,
  codes.notCoordinator
])

const timeoutCodes: ReadonlySet<number> = new Set([
  codes.timedOut,
  codes.timedOutQueue,
  codes.requestTimedOut,
  codes.messageTimedOut
])

interface ErrorLike {
  readonly message?: unknown
  readonly code?: unknown
  readonly isRetriable?: unknown
  readonly isFatal?: unknown
}

const isObject = (u: unknown): u is ErrorLike => typeof u === "object" && u !== null

/**
 * librdkafka's error code of `error`: a `LibrdKafkaError`'s `code`, or the number the native
 * callbacks hand over before the client wraps it. `undefined` for anything else.
 *
 * @since 0.1.0
 */
export const codeOf = (error: unknown): number | undefined => {
  if (typeof error === "number") return error
  if (isObject(error) && typeof error.code === "number" && error.code !== -1) return error.code
  return undefined
}

/**
 * Whether `error` says this member was fenced: unknown member, stale generation or epoch,
 * fenced instance or epoch.
 *
 * @since 0.1.0
 */
export const isFenced = (error: unknown): boolean => {
  const code = codeOf(error)
  return code !== undefined && fencedCodes.has(code)
}

/**
 * Whether `error` is fatal: librdkafka will not recover the client (e.g. a static member
 * fenced by another instance with its `group.instance.id`).
 *
 * @since 0.1.0
 */
export const isFatal = (error: unknown): boolean =>
  codeOf(error) === codes.fatal || (isObject(error) && error.isFatal === true)

const classify = (code: number | undefined): KafkaError.KafkaErrorReason => {
  if (code === undefined) return "unknown"
  if (authenticationCodes.has(code)) return "authentication"
  if (rebalanceCodes.has(code)) return "rebalance"
  if (connectionCodes.has(code)) return "connection"
  if (timeoutCodes.has(code)) return "timeout"
  return code > 0 ? "protocol" : "unknown"
}

/**
 * Translates a failure of `operation` (e.g. `"ConfluentDriver.commit"`).
 *
 * - `authentication`: SASL or TLS rejected the client (never retriable);
 * - `rebalance`: REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
 *   FENCED_INSTANCE_ID, FENCED_MEMBER_EPOCH, STALE_MEMBER_EPOCH, an assignment lost (never
 *   retriable: the member must rejoin first);
 * - `connection`: transport, resolution, all brokers down, coordinator not available;
 * - `timeout`: the client's and the broker's timeouts (always retriable);
 * - `commit`: with `commit: true`, any other failure of an offset commit;
 * - `protocol`: any other error the broker answered with (UNKNOWN_TOPIC_OR_PART, …);
 * - `unknown`: anything else.
 *
 * `retriable` is the client's own `isRetriable` flag where it set one, else whether the reason
 * is one that passes (connection, timeout).
 *
 * @since 0.1.0
 */
export const toKafkaError = (
  error: unknown,
  operation: string,
  options?: { readonly commit?: boolean | undefined }
): KafkaError.KafkaError => {
  if (error instanceof KafkaError.KafkaError) return error
  const code = codeOf(error)
  let reason = classify(code)
  const flag = isObject(error) && typeof error.isRetriable === "boolean" ? error.isRetriable : undefined
  const retriable = !isFatal(error) && KafkaError.retriable(reason, flag)
  if (options?.commit === true && (reason === "protocol" || reason === "unknown")) reason = "commit"
  return KafkaError.make({ reason, operation, message: describe(error, code), retriable, cause: error })
}

const describe = (error: unknown, code: number | undefined): string => {
  const message =
    typeof error === "number"
      ? "librdkafka error"
      : isObject(error) && typeof error.message === "string"
        ? error.message
        : String(error)
  return code === undefined ? message : `${message} [librdkafka ${code}]`
}
