/**
 * Sluice on kafkajs: `KafkaJs.layer` / `layerConfig` (everything a program needs in one
 * layer), the consumer and producer drivers, the admin service and the error translation.
 *
 * @since 0.1.0
 */
/**
 * Everything a program needs from Kafka on kafkajs, in one layer.
 *
 * @since 0.2.0
 */
export * as KafkaJs from "./KafkaJs.js"
/**
 * The Admin service on kafkajs.
 *
 * @since 0.2.0
 */
export * as KafkaJsAdmin from "./KafkaJsAdmin.js"
/**
 * The connection settings the kafkajs drivers share.
 *
 * @since 0.1.0
 */
export * as KafkaJsConfig from "./KafkaJsConfig.js"
/**
 * The ConsumerDriver on kafkajs.
 *
 * @since 0.1.0
 */
export * as KafkaJsDriver from "./KafkaJsDriver.js"
/**
 * kafkajs failures translated into the ports' KafkaError.
 *
 * @since 0.1.0
 */
export * as KafkaJsError from "./KafkaJsError.js"
/**
 * The ProducerDriver on kafkajs.
 *
 * @since 0.1.0
 */
export * as KafkaJsProducer from "./KafkaJsProducer.js"
/**
 * The TransactionalProducerDriver on kafkajs: exactly-once pipelines.
 *
 * @since 0.3.0
 */
export * as KafkaJsTransactional from "./KafkaJsTransactional.js"
