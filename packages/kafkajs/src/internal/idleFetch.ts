/**
 * A resumed partition is fetched at once, not after kafkajs's idle wait (G6).
 *
 * When every partition a fetch would read from a broker is paused, kafkajs's fetch sleeps
 * `maxWaitTime` on a plain timer and returns nothing (`consumer/consumerGroup.js:490-493`).
 * A resume during that sleep waits for the timer: a partition the engine paused for
 * backpressure and resumed once its buffer drained starved for up to `maxWaitTime` (500 ms
 * by default) at each resume. Measured on the keyed workload (one partition, 100 lanes):
 * 0.59 s against 0.37 s on the simulated cluster.
 *
 * kafkajs has no hook for this and no release since 2023, so its `ConsumerGroup` is wrapped,
 * once per process: a fetch for a broker whose assigned partitions are all paused does what
 * kafkajs's does (metadata, stale-assignment check, pending seeks) and then waits until a
 * resume of this group or `maxWaitTime`, whichever comes first. Every other fetch is
 * kafkajs's own. Where kafkajs's internals are not what this expects (another version), the
 * wrapper is not installed and kafkajs behaves as it always did.
 *
 * File:line references are to kafkajs 2.2.4 `src/`.
 */
// @ts-expect-error kafkajs ships no types for its internals; the shape used is `GroupInternals`.
import ConsumerGroupClass from "kafkajs/src/consumer/consumerGroup.js"

interface TopicPartitions {
  readonly topic: string
  readonly partitions: ReadonlyArray<number>
}

/** What of a kafkajs `ConsumerGroup` the wrapper reads or calls. */
interface GroupInternals {
  readonly maxWaitTime: number
  readonly cluster: { refreshMetadataIfNecessary(): Promise<void> }
  readonly subscriptionState: {
    assigned(): Array<TopicPartitions>
    isPaused(topic: string, partition: number): boolean
  }
  filterPartitionsByNode(nodeId: number, topicPartitions: Array<TopicPartitions>): Array<TopicPartitions>
  checkForStaleAssignment(): void
  seekOffsets(topicPartitions: Array<TopicPartitions>): Promise<void>
  recoverFromFetch(error: unknown): Promise<void>
  fetch(nodeId: number): Promise<Array<unknown>>
  resume(topicPartitions: Array<TopicPartitions>): void
}

const prototype = (ConsumerGroupClass as { prototype?: Partial<GroupInternals> } | undefined)?.prototype

/** Fetches of a group waiting out an idle wait, woken by its next resume. */
const sleepers = new WeakMap<GroupInternals, Set<() => void>>()

const wake = (group: GroupInternals): void => {
  const waiting = sleepers.get(group)
  if (waiting === undefined) return
  sleepers.delete(group)
  for (const resolve of waiting) resolve()
}

/** Waits `ms` or until the group's next resume. */
const idleWait = (group: GroupInternals, ms: number): Promise<void> =>
  new Promise((resolve) => {
    const waiting = sleepers.get(group) ?? new Set<() => void>()
    sleepers.set(group, waiting)
    const done = () => {
      clearTimeout(timer)
      waiting.delete(done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    waiting.add(done)
  })

/**
 * Whether `partitions` (those read from one broker) are all paused: kafkajs would make no
 * request and sleep. A partition without a committed offset yet also makes none
 * (`consumerGroup.js:459-488`); that case stays kafkajs's.
 */
const allPaused = (group: GroupInternals, partitions: Array<TopicPartitions>): boolean =>
  partitions.every(({ partitions, topic }) => partitions.every((p) => group.subscriptionState.isPaused(topic, p)))

const installed = { done: false }

/** Wraps kafkajs's `ConsumerGroup` (once per process) so a resume ends an idle fetch's wait. */
export const install = (): void => {
  if (installed.done) return
  installed.done = true
  const proto = prototype
  if (
    typeof proto?.fetch !== "function" ||
    typeof proto.resume !== "function" ||
    typeof proto.filterPartitionsByNode !== "function" ||
    typeof proto.checkForStaleAssignment !== "function" ||
    typeof proto.seekOffsets !== "function" ||
    typeof proto.recoverFromFetch !== "function"
  ) {
    return
  }
  const fetch = proto.fetch
  const resume = proto.resume
  proto.fetch = async function (this: GroupInternals, nodeId: number) {
    let partitions: Array<TopicPartitions>
    try {
      partitions = this.filterPartitionsByNode(nodeId, this.subscriptionState.assigned())
    } catch {
      return fetch.call(this, nodeId)
    }
    if (!allPaused(this, partitions)) return fetch.call(this, nodeId)
    // kafkajs's own fetch up to its idle sleep (`consumerGroup.js:446-454, 547-550`).
    try {
      await this.cluster.refreshMetadataIfNecessary()
      this.checkForStaleAssignment()
      await this.seekOffsets(partitions)
    } catch (error) {
      await this.recoverFromFetch(error)
      return []
    }
    await idleWait(this, this.maxWaitTime)
    return []
  }
  proto.resume = function (this: GroupInternals, topicPartitions: Array<TopicPartitions>) {
    resume.call(this, topicPartitions)
    wake(this)
  }
}
