/**
 * @since 0.1.0
 */
export * as ConfluentConfig from "./ConfluentConfig.js"
export * as ConfluentDriver from "./ConfluentDriver.js"
export * as ConfluentError from "./ConfluentError.js"
export * as ConfluentProducer from "./ConfluentProducer.js"
