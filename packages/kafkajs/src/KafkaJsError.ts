/**
 * Translates kafkajs failures into the port's `KafkaError`. Every promise of kafkajs the
 * drivers enter goes through `toKafkaError`, so the engine and users match on `reason`
 * and `retriable`, never on kafkajs's classes.
 *
 * kafkajs wraps errors as they pass its retriers: a failure that ran out of retries is a
 * `KafkaJSNumberOfRetriesExceeded` whose `cause` is the last error, and a non-retriable one
 * is a `KafkaJSNonRetriableError` around the original (`src/retry/index.js:46-56`). The
 * translation therefore looks at the whole `cause` chain, matching by `name` and by the
 * broker's error `type`, so that a second copy of kafkajs in the tree is handled too.
 *
 * @since 0.1.0
 */
import * as KafkaError from "@sluice/core/KafkaError"
import { chain, type ErrorLike, str } from "./internal/errorChain.js"

/**
 * Broker errors that mean the member no longer owns what it thinks it owns.
 *
 * @since 0.1.0
 */
export const rebalanceTypes: ReadonlySet<string> = new Set([
  "REBALANCE_IN_PROGRESS",
  "ILLEGAL_GENERATION",
  "UNKNOWN_MEMBER_ID",
  "FENCED_INSTANCE_ID"
])

/**
 * The subset of `rebalanceTypes` after which the member is out of the generation: its
 * partitions are lost, not revoked.
 *
 * @since 0.1.0
 */
export const fencedTypes: ReadonlySet<string> = new Set([
  "ILLEGAL_GENERATION",
  "UNKNOWN_MEMBER_ID",
  "FENCED_INSTANCE_ID"
])

const authenticationTypes = new Set(["SASL_AUTHENTICATION_FAILED", "UNSUPPORTED_SASL_MECHANISM", "ILLEGAL_SASL_STATE"])

const connectionNames = new Set([
  "KafkaJSConnectionError",
  "KafkaJSConnectionClosedError",
  "KafkaJSNoBrokerAvailableError",
  "KafkaJSBrokerNotFound",
  "KafkaJSGroupCoordinatorNotFound"
])

const timeoutNames = new Set(["KafkaJSRequestTimeoutError", "KafkaJSTimeout", "KafkaJSLockTimeout"])

const systemConnectionCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "ETIMEDOUT"
])

const classify = (e: ErrorLike): KafkaError.KafkaErrorReason | undefined => {
  const name = str(e.name) ?? ""
  const type = str(e.type)
  if (name === "KafkaJSSASLAuthenticationError" || (type !== undefined && authenticationTypes.has(type))) {
    return "authentication"
  }
  if (type !== undefined && rebalanceTypes.has(type)) return "rebalance"
  if (connectionNames.has(name)) return "connection"
  const code = str(e.code)
  if (code !== undefined && systemConnectionCodes.has(code)) return "connection"
  if (timeoutNames.has(name) || type === "REQUEST_TIMED_OUT") return "timeout"
  if (type !== undefined) return "protocol"
  return undefined
}

// When a chain holds several kinds (a commit refused with REBALANCE_IN_PROGRESS after a
// dropped connection was retried), the most telling one wins.
const priority: ReadonlyArray<KafkaError.KafkaErrorReason> = [
  "authentication",
  "rebalance",
  "connection",
  "timeout",
  "protocol"
]

/**
 * Whether `error` (or one of its causes) says this member was fenced: unknown member,
 * stale generation or fenced instance.
 *
 * @since 0.1.0
 */
export const isFenced = (error: unknown): boolean =>
  chain(error).some((e) => {
    const type = str(e.type)
    return type !== undefined && fencedTypes.has(type)
  })

/**
 * Translates a kafkajs failure of `operation` (e.g. `"KafkaJsDriver.commit"`).
 *
 * - `authentication`: SASL rejected the client;
 * - `rebalance`: REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
 *   FENCED_INSTANCE_ID (never retriable: the member must rejoin first);
 * - `connection`: connection errors, no broker available, system socket errors;
 * - `timeout`: request and lock timeouts (always retriable);
 * - `commit`: with `commit: true`, any other failure of an offset commit;
 * - `protocol`: any other error the broker answered with (UNKNOWN_TOPIC_OR_PARTITION, …);
 * - `unknown`: anything else.
 *
 * `retriable` is kafkajs's own flag on the error that decided the reason (for a
 * `KafkaJSNumberOfRetriesExceeded`, its cause's).
 *
 * @since 0.1.0
 */
export const toKafkaError = (
  error: unknown,
  operation: string,
  options?: { readonly commit?: boolean | undefined }
): KafkaError.KafkaError => {
  if (error instanceof KafkaError.KafkaError) return error
  const errors = chain(error)
  let reason: KafkaError.KafkaErrorReason = "unknown"
  let decisive: ErrorLike | undefined
  let rank = priority.length
  for (const e of errors) {
    const kind = classify(e)
    if (kind === undefined) continue
    const r = priority.indexOf(kind)
    if (r < rank) {
      rank = r
      reason = kind
      decisive = e
    }
  }
  // The innermost error with a flag knows best whether trying again can help: the wrappers
  // kafkajs adds after its own retries are all marked non-retriable.
  const innermostFlag = [...errors].reverse().find((e) => typeof e.retriable === "boolean")?.retriable as
    | boolean
    | undefined
  const flag = typeof decisive?.retriable === "boolean" ? decisive.retriable : innermostFlag
  const retriable = KafkaError.retriable(reason, flag)
  if (options?.commit === true && (reason === "protocol" || reason === "unknown")) reason = "commit"
  const source = decisive ?? errors[0]
  const message = describe(source, error)
  return KafkaError.make({ reason, operation, message, retriable, cause: error })
}

const describe = (source: ErrorLike | undefined, error: unknown): string => {
  if (source === undefined) return String(error)
  const message = str(source.message) ?? String(error)
  const type = str(source.type)
  return type !== undefined && !message.includes(type) ? `${message} [${type}]` : message
}
