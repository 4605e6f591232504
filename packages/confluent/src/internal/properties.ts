/**
 * librdkafka's properties for a consumer or producer, from the drivers' settings, and the
 * check that the free-form `librdkafka` properties of a `ConfluentConfig` neither override
 * what a driver decides nor name something the chosen group protocol ignores.
 *
 * Property names and ranges: librdkafka 2.15.1 `CONFIGURATION.md` (in the client's
 * `deps/librdkafka/`).
 */
import type { Subscription } from "@sluice/core/ConsumerDriver"
import { SettingsError } from "@sluice/core/SettingsError"
import * as Duration from "effect/Duration"
import * as Redacted from "effect/Redacted"
import type * as ConfluentConfig from "../ConfluentConfig.js"
import type { Properties } from "./native.js"

/** Consumer settings beyond the `Subscription`, resolved; see `ConfluentDriver.ConsumerOptions`. */
export interface ConsumerOptions {
  readonly groupProtocol: "classic" | "consumer"
  /** Classic protocol only. */
  readonly assignor: "range" | "roundrobin" | "cooperative-sticky"
  /** Consumer protocol only: the broker's assignor, or the broker's default when undefined. */
  readonly remoteAssignor: "uniform" | "range" | undefined
  readonly batchSize: number
  readonly pollTimeout: Duration.Duration
  readonly fetchWait: Duration.Duration
  readonly fetchQueueKbytes: number
  readonly fetchQueueBackoff: Duration.Duration
  readonly allowAutoTopicCreation: boolean
  readonly readUncommitted: boolean
  /** The rejoin watchdog's timeout (`watchdog.ts`); undefined: derived from the subscription (`rejoinTimeout`). */
  readonly rejoinTimeout: Duration.Duration | undefined
}

/**
 * How long a member that owns nothing may stay out of its group before the driver replaces its
 * client: the option, or the rebalance timeout (the longest a coordinator holds a JoinGroup)
 * plus the session timeout plus the request timeout.
 */
export const rejoinTimeout = (
  config: ConfluentConfig.Resolved,
  subscription: Subscription,
  options: ConsumerOptions
): Duration.Duration =>
  options.rejoinTimeout ??
  Duration.sum(Duration.sum(subscription.rebalanceTimeout, subscription.sessionTimeout), config.requestTimeout)

/**
 * How often librdkafka reports its statistics, which the watchdog reads: four times within its
 * timeout, at least every 5 s and at most every 100 ms.
 */
const statisticsInterval = (timeout: Duration.Duration): number =>
  Math.round(Math.max(100, Math.min(5000, Duration.toMillis(timeout) / 4)))

/** Whether a rebalance revokes everything (classic protocol with an eager assignor). */
export const isEager = (options: ConsumerOptions): boolean =>
  options.groupProtocol === "classic" && options.assignor !== "cooperative-sticky"

/** librdkafka's `log_level` (syslog severities) for each of the config's levels. */
export const logLevels: Record<ConfluentConfig.LogLevel, number> = {
  nothing: 0,
  error: 3,
  warn: 4,
  info: 6,
  debug: 7
}

const millis = (duration: Duration.Duration): number => Math.max(1, Math.round(Duration.toMillis(duration)))

/** Connection, security and logging: what every client of a `ConfluentConfig` shares. */
const connection = (config: ConfluentConfig.Resolved, clientId: string): Properties => {
  const properties: Properties = {
    "bootstrap.servers": config.brokers.join(","),
    "client.id": clientId,
    "socket.connection.setup.timeout.ms": millis(config.connectionTimeout),
    "socket.timeout.ms": millis(config.requestTimeout),
    log_level: logLevels[config.logLevel]
  }
  if (config.sasl !== undefined) {
    properties["security.protocol"] = config.ssl ? "sasl_ssl" : "sasl_plaintext"
    properties["sasl.mechanisms"] = config.sasl.mechanism.toUpperCase()
    properties["sasl.username"] = config.sasl.username
    properties["sasl.password"] = Redacted.value(config.sasl.password)
  } else if (config.ssl) {
    properties["security.protocol"] = "ssl"
  }
  return properties
}

const connectionKeys = [
  "bootstrap.servers",
  "metadata.broker.list",
  "client.id",
  "socket.connection.setup.timeout.ms",
  "socket.timeout.ms",
  "log_level",
  "security.protocol",
  "sasl.mechanisms",
  "sasl.mechanism",
  "sasl.username",
  "sasl.password"
]

/** The consumer's properties: the user's `librdkafka` ones first, the driver's over them. */
export const consumer = (
  config: ConfluentConfig.Resolved,
  subscription: Subscription,
  options: ConsumerOptions
): Properties => {
  const properties: Properties = {
    ...config.librdkafka,
    ...connection(config, subscription.clientId),
    "group.id": subscription.groupId,
    "group.protocol": options.groupProtocol,
    // Sluice commits what the engine says, and only that (G1).
    "enable.auto.commit": false,
    "enable.auto.offset.store": false,
    "max.partition.fetch.bytes": subscription.maxBytesPerPartition,
    "fetch.wait.max.ms": millis(options.fetchWait),
    "queued.max.messages.kbytes": options.fetchQueueKbytes,
    "fetch.queue.backoff.ms": millis(options.fetchQueueBackoff),
    "isolation.level": options.readUncommitted ? "read_uncommitted" : "read_committed",
    "allow.auto.create.topics": options.allowAutoTopicCreation
  }
  // The watchdog's eyes, unless the user chose an interval (0 turns the statistics off, and with
  // them the watchdog).
  const timeout = rejoinTimeout(config, subscription, options)
  if (properties["statistics.interval.ms"] === undefined && Duration.isFinite(timeout)) {
    properties["statistics.interval.ms"] = statisticsInterval(timeout)
  }
  if (subscription.groupInstanceId !== undefined) properties["group.instance.id"] = subscription.groupInstanceId
  if (options.groupProtocol === "classic") {
    const session = millis(subscription.sessionTimeout)
    properties["session.timeout.ms"] = session
    properties["heartbeat.interval.ms"] = millis(subscription.heartbeatInterval)
    properties["partition.assignment.strategy"] = options.assignor
    // The rebalance timeout of a classic JoinGroup; librdkafka wants it ≥ the session timeout.
    properties["max.poll.interval.ms"] = Math.max(session, millis(subscription.rebalanceTimeout))
  } else {
    // KIP-848: the broker owns the session timeout, the heartbeat interval and the assignor;
    // the rebalance timeout the member sends is still `max.poll.interval.ms`.
    properties["max.poll.interval.ms"] = millis(subscription.rebalanceTimeout)
    if (options.remoteAssignor !== undefined) properties["group.remote.assignor"] = options.remoteAssignor
  }
  return properties
}

const consumerKeys = [
  ...connectionKeys,
  "group.id",
  "group.protocol",
  "group.instance.id",
  "enable.auto.commit",
  "enable.auto.offset.store",
  "auto.offset.reset",
  "max.partition.fetch.bytes",
  "fetch.wait.max.ms",
  "queued.max.messages.kbytes",
  "fetch.queue.backoff.ms",
  "isolation.level",
  "allow.auto.create.topics",
  "max.poll.interval.ms",
  "session.timeout.ms",
  "heartbeat.interval.ms",
  "partition.assignment.strategy",
  "group.remote.assignor",
  "rebalance_cb",
  "offset_commit_cb",
  "enable.partition.eof"
]

/**
 * The consumer's topic properties. `auto.offset.reset` must be here: the client hands librdkafka
 * a topic configuration of its own (`default_topic_conf`), which replaces topic properties set
 * among the global ones.
 */
export const consumerTopic = (subscription: Subscription): Properties => ({
  "auto.offset.reset": subscription.startFrom
})

/** Properties the consumer protocol (KIP-848) ignores because the broker decides them. */
const classicOnly = [
  "session.timeout.ms",
  "heartbeat.interval.ms",
  "partition.assignment.strategy",
  "group.protocol.type"
]

/** Producer settings, resolved; see `ConfluentProducer.ProducerOptions`. */
export interface ProducerOptions {
  readonly idempotent: boolean
}

/** The producer's properties: the user's `librdkafka` ones first, the driver's over them. */
export const producer = (config: ConfluentConfig.Resolved, options: ProducerOptions): Properties => ({
  // Java's partitioner (murmur2 of the key), so that keys land where kafkajs and the Java
  // client put them; librdkafka's default (`consistent_random`, CRC32) would not.
  partitioner: "murmur2_random",
  ...config.librdkafka,
  ...connection(config, config.clientId),
  "enable.idempotence": options.idempotent,
  acks: "all",
  dr_cb: true
})

const producerKeys = [...connectionKeys, "enable.idempotence", "acks", "request.required.acks", "dr_cb", "dr_msg_cb"]

const refuse = (key: string, message: string): SettingsError =>
  new SettingsError({ setting: `librdkafka["${key}"]`, message: `librdkafka["${key}"]: ${message}` })

/**
 * The first of the config's `librdkafka` properties that the consumer driver sets itself or
 * that its group protocol ignores, as a `SettingsError` naming it.
 */
export const refusedForConsumer = (
  config: ConfluentConfig.ConfluentConfig,
  options: ConsumerOptions
): SettingsError | undefined => {
  for (const key of Object.keys(config.librdkafka ?? {})) {
    if (options.groupProtocol === "consumer" && classicOnly.includes(key)) {
      return refuse(key, "is ignored by the consumer group protocol (KIP-848): the broker decides it")
    }
    if (consumerKeys.includes(key)) return refuse(key, "is set by the driver from its own settings")
  }
  return undefined
}

/** The first of the config's `librdkafka` properties that the producer driver sets itself. */
export const refusedForProducer = (config: ConfluentConfig.ConfluentConfig): SettingsError | undefined => {
  for (const key of Object.keys(config.librdkafka ?? {})) {
    if (producerKeys.includes(key)) return refuse(key, "is set by the driver from its own settings")
  }
  return undefined
}

/** The admin client's properties (and those of its helper consumer for commits from outside a group). */
export const admin = (config: ConfluentConfig.Resolved): Properties => ({
  ...config.librdkafka,
  ...connection(config, config.clientId)
})
