/**
 * Sluice's core: the engine, the data types, the driver ports, pipelines, codecs, error
 * policies and settings. Each module is also importable alone (`@sluice/core/Pipeline`).
 *
 * @since 0.1.0
 */

/**
 * The admin service: topics, groups, lag and offset resets, on every driver.
 *
 * @since 0.2.0
 */
export * as Admin from "./Admin.js"
/**
 * Codecs between a record's bytes and typed values; any Schema to bytes or text is one.
 *
 * @since 0.1.0
 */
export * as Codec from "./Codec.js"
/**
 * Records and offsets of the stream APIs, committed by count or time.
 *
 * @since 0.1.0
 */
export * as CommittableRecord from "./CommittableRecord.js"
/**
 * The consumer: joins a group through a driver and runs a worker per assigned partition.
 *
 * @since 0.1.0
 */
export * as Consumer from "./Consumer.js"
/**
 * The port a Kafka client implements for consuming.
 *
 * @since 0.1.0
 */
export * as ConsumerDriver from "./ConsumerDriver.js"
/**
 * Why a consumer stopped because of a handler: its failure or its defect.
 *
 * @since 0.1.0
 */
export * as ConsumerError from "./ConsumerError.js"
/**
 * The diagnostics a consumer reports: assignments, revocations, commits, pauses.
 *
 * @since 0.1.0
 */
export * as ConsumerEvent from "./ConsumerEvent.js"
/**
 * Records as the engine sees them (raw bytes) and as handlers see them.
 *
 * @since 0.1.0
 */
export * as ConsumerRecord from "./ConsumerRecord.js"
/**
 * A consumer's settings: defaults, validation and the KAFKA_* reader.
 *
 * @since 0.1.0
 */
export * as ConsumerSettings from "./ConsumerSettings.js"
/**
 * What happens to a record that failed: retry, dead letter, skip or stop.
 *
 * @since 0.1.0
 */
export * as ErrorPolicy from "./ErrorPolicy.js"
/**
 * A consumer's health for readiness and liveness probes.
 *
 * @since 0.2.0
 */
export * as Health from "./Health.js"
/**
 * The error vocabulary of the driver ports.
 *
 * @since 0.1.0
 */
export * as KafkaError from "./KafkaError.js"
/**
 * The offsets finished above the commit frontier, encoded in the commit metadata.
 *
 * @since 0.1.0
 */
export * as OffsetMetadata from "./OffsetMetadata.js"
/**
 * The external offset store: positions kept beside the results, in one database transaction
 * (G10).
 *
 * @since 0.3.0
 */
export * as OffsetStore from "./OffsetStore.js"
/**
 * A partition's commit frontier: the lowest offset not finished yet.
 *
 * @since 0.1.0
 */
export * as OffsetTracker from "./OffsetTracker.js"
/**
 * Typed pipelines: a topic, a handler, an error policy and a processing mode.
 *
 * @since 0.1.0
 */
export * as Pipeline from "./Pipeline.js"
/**
 * How a partition's records run: one at a time, per key, or in any order.
 *
 * @since 0.1.0
 */
export * as ProcessingMode from "./ProcessingMode.js"
/**
 * The producer: typed sends through a topic's codecs.
 *
 * @since 0.1.0
 */
export * as Producer from "./Producer.js"
/**
 * The port a Kafka client implements for producing.
 *
 * @since 0.2.0
 */
export * as ProducerDriver from "./ProducerDriver.js"
/**
 * Readers of settings from a Config provider, under KAFKA_.
 *
 * @since 0.2.0
 */
export * as SettingsConfig from "./SettingsConfig.js"
/**
 * The error of a bad setting or argument.
 *
 * @since 0.2.0
 */
export * as SettingsError from "./SettingsError.js"
/**
 * What a pipeline does with a record in flight longer than its stall timeout.
 *
 * @since 0.2.0
 */
export * as StallPolicy from "./StallPolicy.js"
/**
 * A topic described once: its name and the codecs of its keys, values and headers.
 *
 * @since 0.1.0
 */
export * as Topic from "./Topic.js"
/**
 * A topic's partition as a value.
 *
 * @since 0.1.0
 */
export * as TopicPartition from "./TopicPartition.js"
/**
 * The port a Kafka client implements for exactly-once pipelines: a transactional producer per
 * input partition, and its `TransactionError`.
 *
 * @since 0.3.0
 */
export * as TransactionalProducerDriver from "./TransactionalProducerDriver.js"
/**
 * The checks behind every constructor's validation, for drivers.
 *
 * @since 0.2.0
 */
export * as Validate from "./Validate.js"
