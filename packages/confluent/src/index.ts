/**
 * Sluice on Confluent's librdkafka client (`@confluentinc/kafka-javascript`): the consumer
 * driver (classic eager or cooperative rebalancing, KIP-848, static membership), the
 * producer driver, the admin service, all three in one layer (`Confluent`), their shared
 * connection settings and the error translation.
 *
 * @since 0.1.0
 */

/**
 * Everything from one layer: `Consumer`, `Producer`, `Admin` and both drivers, from options or
 * `KAFKA_*`.
 *
 * @since 0.2.0
 */
export * as Confluent from "./Confluent.js"
/**
 * The `Admin` service on librdkafka's admin client.
 *
 * @since 0.2.0
 */
export * as ConfluentAdmin from "./ConfluentAdmin.js"
/**
 * The connection settings both drivers share, with defaults and a reader for `KAFKA_*`.
 *
 * @since 0.1.0
 */
export * as ConfluentConfig from "./ConfluentConfig.js"
/**
 * The `ConsumerDriver` on librdkafka.
 *
 * @since 0.1.0
 */
export * as ConfluentDriver from "./ConfluentDriver.js"
/**
 * The translation of librdkafka's errors into the port's `KafkaError`.
 *
 * @since 0.1.0
 */
export * as ConfluentError from "./ConfluentError.js"
/**
 * The `ProducerDriver` on librdkafka: idempotent, acknowledged by all in-sync replicas.
 *
 * @since 0.1.0
 */
export * as ConfluentProducer from "./ConfluentProducer.js"

/**
 * The `TransactionalProducerDriver` on librdkafka, for exactly-once pipelines: a transactional
 * producer per input partition, its offsets sent with the group's metadata (KIP-447).
 *
 * @since 0.3.0
 */
export * as ConfluentTransactional from "./ConfluentTransactional.js"
