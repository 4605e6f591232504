/**
 * @since 0.1.0
 */
export * as KafkaJs from "./KafkaJs.js"
export * as KafkaJsAdmin from "./KafkaJsAdmin.js"
export * as KafkaJsConfig from "./KafkaJsConfig.js"
export * as KafkaJsDriver from "./KafkaJsDriver.js"
export * as KafkaJsError from "./KafkaJsError.js"
export * as KafkaJsProducer from "./KafkaJsProducer.js"
