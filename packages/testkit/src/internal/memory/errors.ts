/**
 * The simulated cluster's errors: every failure it reports is a `KafkaError`, with the reason
 * and retriability a real client's error would be translated into.
 *
 * Owns nothing; touches nothing.
 */
import * as KafkaError from "@sluice/core/KafkaError"

export const kafkaError = (
  operation: string,
  reason: KafkaError.KafkaErrorReason,
  message: string,
  retriable = false
): KafkaError.KafkaError => KafkaError.make({ reason, operation, message, retriable })
