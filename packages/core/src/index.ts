/**
 * @since 0.1.0
 */

export * as Admin from "./Admin.js"
export * as Codec from "./Codec.js"
export * as CommittableRecord from "./CommittableRecord.js"
export * as Consumer from "./Consumer.js"
export * as ConsumerDriver from "./ConsumerDriver.js"
export * as ConsumerError from "./ConsumerError.js"
export * as ConsumerEvent from "./ConsumerEvent.js"
export * as ConsumerRecord from "./ConsumerRecord.js"
export * as ConsumerSettings from "./ConsumerSettings.js"
export * as ErrorPolicy from "./ErrorPolicy.js"
export * as KafkaError from "./KafkaError.js"
export * as OffsetMetadata from "./OffsetMetadata.js"
export * as OffsetTracker from "./OffsetTracker.js"
export * as Pipeline from "./Pipeline.js"
export * as ProcessingMode from "./ProcessingMode.js"
export * as Producer from "./Producer.js"
export * as Topic from "./Topic.js"
export * as TopicPartition from "./TopicPartition.js"
