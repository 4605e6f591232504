/**
 * Builds kafkajs clients from a resolved `KafkaJsConfig` and routes kafkajs's logs to
 * Effect's logger.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import { Kafka, type KafkaConfig, type LogEntry, logLevel, type RetryOptions } from "kafkajs"
import type * as KafkaJsConfig from "../KafkaJsConfig.js"

const levels: Record<KafkaJsConfig.LogLevel, logLevel> = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG
}

// Warnings kafkajs prints about choices the drivers made on purpose (documented in the
// README), which would otherwise show at every start.
const silenced = ["Limiting retries for the idempotent producer"]

/**
 * kafkajs logs every error answer of the broker at ERROR (`network/connection.js:443-449`)
 * before its callers decide what it means: a heartbeat answered REBALANCE_IN_PROGRESS is
 * how every rebalance starts, and the driver's own heartbeats during a revocation get it
 * on purpose. What matters reaches the application as a typed `KafkaError` or through
 * kafkajs's higher-level lines, so these go to DEBUG, and routine rebalance lines to INFO.
 */
const levelOf = (entry: LogEntry, message: string): logLevel => {
  if (entry.namespace === "Connection" && message.startsWith("Response ")) return logLevel.DEBUG
  if (message.startsWith("The group is rebalancing, re-joining")) return logLevel.INFO
  // The driver aborts a join itself when its scope closes (see `internal/member.ts`).
  if (message.includes("Sluice: the consumer is closing")) return logLevel.DEBUG
  return entry.level
}

/**
 * A kafkajs `logCreator` that writes through `runtime`, so kafkajs's lines carry the
 * subscribing fiber's annotations and go wherever the application's logger goes. kafkajs
 * filters by its own level first (`logLevel` in the config).
 */
export const logCreator =
  (runtime: Runtime.Runtime<never>, threshold: logLevel) =>
  () =>
  (entry: LogEntry): void => {
    const { logger: _logger, message: raw, stack: _stack, timestamp: _timestamp, ...extra } = entry.log
    const message = String(raw)
    if (silenced.some((prefix) => message.startsWith(prefix))) return
    const level = levelOf(entry, message)
    if (level > threshold) return
    const log =
      level <= logLevel.ERROR
        ? Effect.logError(message)
        : level === logLevel.WARN
          ? Effect.logWarning(message)
          : level === logLevel.INFO
            ? Effect.logInfo(message)
            : Effect.logDebug(message)
    try {
      Runtime.runSync(runtime)(Effect.annotateLogs(log, { kafkajs: entry.namespace, ...extra }))
    } catch {
      // A logger must never break the client.
    }
  }

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
