/**
 * A partition of a topic: the unit Kafka assigns to a member of a consumer group, and the
 * unit Sluice gives a fiber, a scope and an offset tracker.
 *
 * @since 0.1.0
 */

/**
 * A topic's name and a partition number.
 *
 * @since 0.1.0
 */
export interface TopicPartition {
  readonly topic: string
  readonly partition: number
}

/**
 * Builds a `TopicPartition`.
 *
 * @since 0.1.0
 */
export const make = (topic: string, partition: number): TopicPartition => ({ topic, partition })

/**
 * A string key, unique per topic-partition, for maps and sets. Topic names may contain `-`
 * and `.`, never `|`, so `|` separates without ambiguity.
 *
 * @since 0.1.0
 */
export const key = (tp: TopicPartition): string => `${tp.topic}|${tp.partition}`

/**
 * The topic-partition a `key` was made from.
 *
 * @since 0.1.0
 */
export const fromKey = (key: string): TopicPartition => {
  const at = key.lastIndexOf("|")
  return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) }
}

/**
 * Whether two values name the same topic-partition.
 *
 * @since 0.1.0
 */
export const equals = (a: TopicPartition, b: TopicPartition): boolean =>
  a.topic === b.topic && a.partition === b.partition

/**
 * `topic-partition`, the way Kafka's tools and logs write it.
 *
 * @since 0.1.0
 */
export const format = (tp: TopicPartition): string => `${tp.topic}-${tp.partition}`

/**
 * Sorts by topic, then partition: a stable order for logs and commits.
 *
 * @since 0.1.0
 */
export const order = (a: TopicPartition, b: TopicPartition): number =>
  a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition

/**
 * Groups partitions by topic, topics in first-seen order: the shape Kafka's requests
 * (pause, resume, commit, produce) take.
 *
 * @example
 * ```ts
 * import * as TopicPartition from "@sluice/core/TopicPartition"
 *
 * TopicPartition.groupByTopic([TopicPartition.make("a", 0), TopicPartition.make("a", 1)])
 * // [{ topic: "a", partitions: [0, 1] }]
 * ```
 *
 * @since 0.2.0
 */
export const groupByTopic = (
  partitions: Iterable<TopicPartition>
): Array<{ readonly topic: string; readonly partitions: Array<number> }> => {
  const topics = new Map<string, Array<number>>()
  for (const tp of partitions) {
    const list = topics.get(tp.topic)
    if (list === undefined) topics.set(tp.topic, [tp.partition])
    else list.push(tp.partition)
  }
  return Array.from(topics, ([topic, partitions]) => ({ topic, partitions }))
}
