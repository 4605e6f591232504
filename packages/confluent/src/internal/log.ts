/**
 * The bridge from librdkafka's log and error events to Effect's logger: librdkafka's lines go
 * wherever the application's logger goes, annotated with the client's facility.
 *
 * librdkafka filters by `log_level` itself (set from the config's `logLevel`); its error
 * events (a broker down, all brokers down, …) are transient unless fatal, so they are
 * warnings: what matters to the application reaches it as a typed `KafkaError`.
 */
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import { codeOf } from "../ConfluentError.js"
import type { NativeError, NativeLog } from "./native.js"

const write = (runtime: Runtime.Runtime<never>, effect: Effect.Effect<void>): void => {
  try {
    Runtime.runSync(runtime)(effect)
  } catch {
    // A logger must never break the client.
  }
}

/** Routes `client`'s `event.log` and `event.error` through `runtime`'s logger. */
export const attachLogs = (
  client: {
    on(event: "event.log", listener: (log: NativeLog) => void): void
    on(event: "event.error", listener: (error: NativeError) => void): void
  },
  runtime: Runtime.Runtime<never>
): void => {
  client.on("event.log", (log) => {
    // Syslog severities: 0–3 errors, 4 warnings, 5–6 notices and information, 7 debug.
    const line =
      log.severity <= 3
        ? Effect.logError(log.message)
        : log.severity === 4
          ? Effect.logWarning(log.message)
          : log.severity <= 6
            ? Effect.logInfo(log.message)
            : Effect.logDebug(log.message)
    write(runtime, Effect.annotateLogs(line, { librdkafka: log.fac }))
  })
  client.on("event.error", (error) => {
    write(runtime, Effect.annotateLogs(Effect.logWarning(error.message), { librdkafka: "error", code: codeOf(error) }))
  })
}
