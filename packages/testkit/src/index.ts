/**
 * Sluice's testkit: the simulated cluster, handler faults and probes, and a real broker for
 * tests. The conformance suites, the test helpers, the fault schedules and `TestCluster` are
 * imported by path (`@sluice/testkit/Conformance`).
 *
 * @since 0.1.0
 */

/**
 * Faults in a handler as combinators: failing, hanging and slow handlers on any driver.
 *
 * @since 0.1.0
 */
export * as HandlerFaults from "./HandlerFaults.js"
/**
 * A probe around a handler that records every call, to count duplicates, check order and
 * wait for progress.
 *
 * @since 0.1.0
 */
export * as HandlerProbe from "./HandlerProbe.js"
/**
 * A real Kafka broker for tests: `KAFKA_BROKERS`, testcontainers or the shipped launcher.
 *
 * @since 0.1.0
 */
export * as KafkaBroker from "./KafkaBroker.js"
/**
 * The simulated cluster: an in-memory Kafka with fault injection and inspection.
 *
 * @since 0.1.0
 */
export * as MemoryKafka from "./MemoryKafka.js"
/**
 * An in-memory database with an external offset store, for exactly-once tests on the
 * simulated cluster.
 *
 * @since 0.3.0
 */
export * as MemoryOffsetStore from "./MemoryOffsetStore.js"
