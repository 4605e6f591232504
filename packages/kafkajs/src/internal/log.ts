/**
 * The bridge from kafkajs's logger to Effect's: kafkajs's lines go wherever the
 * application's logger goes, at a level that says what they mean to a Sluice user.
 *
 * One bridge for every kafkajs client Sluice builds, the drivers' and the tests' alike.
 */
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import { type LogEntry, logLevel } from "kafkajs"
import type * as KafkaJsConfig from "../KafkaJsConfig.js"

/** kafkajs's level for each of the config's. */
export const levels: Record<KafkaJsConfig.LogLevel, logLevel> = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG
}

/**
 * The message of the error the gate throws into kafkajs's join when the scope closes
 * (`revocation.ts`): expected, so the bridge quiets kafkajs's lines about it.
 */
export const closingMessage = "Sluice: the consumer is closing"

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
  // The driver aborts a join itself when its scope closes (see `revocation.ts`).
  if (message.includes(closingMessage)) return logLevel.DEBUG
  return entry.level
}

/**
 * A kafkajs `logCreator` that writes through `runtime`, so kafkajs's lines carry the
 * subscribing fiber's annotations and go wherever the application's logger goes. kafkajs
 * filters by its own level first (`logLevel` in the config); `threshold` filters again after
 * the levels were adjusted.
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
