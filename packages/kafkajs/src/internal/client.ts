/**
 * Builds kafkajs clients from a resolved `KafkaJsConfig`, their logs routed through
 * `log.ts`.
 */
import * as Duration from "effect/Duration"
import * as Redacted from "effect/Redacted"
import type * as Runtime from "effect/Runtime"
import { Kafka, type KafkaConfig, type RetryOptions } from "kafkajs"
import type * as KafkaJsConfig from "../KafkaJsConfig.js"
import { levels, logCreator } from "./log.js"

/** kafkajs's retry settings from the config (`src/retry/index.js`). */
export const retryOptions = (config: KafkaJsConfig.Resolved): RetryOptions => ({
  retries: config.retries,
  initialRetryTime: Duration.toMillis(config.initialRetryTime),
  maxRetryTime: Duration.toMillis(config.maxRetryTime),
  factor: 0.2,
  multiplier: 2
})

/** A kafkajs client: one per consumer member, producer or admin, so none shares sockets. */
export const makeKafka = (config: KafkaJsConfig.Resolved, clientId: string, runtime: Runtime.Runtime<never>): Kafka => {
  const options: KafkaConfig = {
    brokers: [...config.brokers],
    clientId,
    connectionTimeout: Duration.toMillis(config.connectionTimeout),
    requestTimeout: Duration.toMillis(config.requestTimeout),
    retry: retryOptions(config),
    logLevel: levels[config.logLevel],
    logCreator: logCreator(runtime, levels[config.logLevel])
  }
  if (config.ssl !== undefined) options.ssl = config.ssl
  if (config.sasl !== undefined) {
    options.sasl = {
      mechanism: config.sasl.mechanism,
      username: config.sasl.username,
      password: Redacted.value(config.sasl.password)
    } as NonNullable<KafkaConfig["sasl"]>
  }
  return new Kafka(options)
}
