/**
 * @since 0.1.0
 */

export * as HandlerFaults from "./HandlerFaults.js"
export * as HandlerProbe from "./HandlerProbe.js"
export * as KafkaBroker from "./KafkaBroker.js"
export * as MemoryKafka from "./MemoryKafka.js"
