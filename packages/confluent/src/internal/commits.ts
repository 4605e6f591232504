/**
 * Commits that wait for the broker's answer.
 *
 * The client has no commit call that both leaves the JavaScript thread free and reports the
 * broker's answer: `commitSync` blocks the thread for the round trip (without a timeout, while
 * the coordinator is unknown), and `commitCb` calls back once librdkafka *queued* the commit
 * (`src/workers.cc:1075-1085` runs `KafkaConsumer::Commit`, which is `commitAsync`,
 * `src/kafka-consumer.cc:289-297`). The answer arrives at `offset_commit_cb`, served from
 * inside `consume` like every callback. So a commit is queued with `commit`, and the promise
 * of it is settled by the `offset_commit_cb` that names the same offsets; one commit is in
 * flight at a time, so a failure that names other offsets (librdkafka leaves invalid ones out, and
 * a failed commit's list may carry no offsets) settles the oldest commit of the partitions it
 * names. A success settles only the commit of exactly the offsets it names. A result no waiting
 * commit could have caused (the late answer to a commit that stopped waiting: timed out, or its
 * partition lost) settles nothing.
 *
 * A commit that gets no answer by its deadline is settled with `timedOut` by `expire`, which
 * the session calls on a timer of its own: one timer for all its commits, where a timeout around
 * each commit (`Effect.timeoutFail`) forked two fibers and a sleep per commit, and with them
 * kept about twice as much alive through each young collection (1,000,000 records over
 * librdkafka, a commit per poll: 292–303 k records/s and 160 ms of scavenges with it, 313–314 k
 * and 112–125 ms without; docs/benchmarks.md).
 */
import type { NativeError, NativeTopicPartition } from "./native.js"

/** What `expire` settles a commit with: it had no answer by its deadline. */
export const timedOut: NativeError = new Error("no answer by the commit's deadline")

interface Pending {
  readonly key: string
  /** When it stops waiting (the `Clock`'s milliseconds), as `timedOut`. */
  readonly deadline: number
  /** `topic|partition` of each offset. */
  readonly partitions: ReadonlySet<string>
  readonly settle: (error: NativeError | null) => void
}

const partitionOf = (o: NativeTopicPartition): string => `${o.topic}|${o.partition}`

const keyOf = (offsets: ReadonlyArray<NativeTopicPartition>): string =>
  offsets
    .map((o) => `${o.topic}|${o.partition}|${o.offset ?? ""}`)
    .sort()
    .join(",")

export class Commits {
  private pending: Array<Pending> = []

  /**
   * Waits for the result of a commit of `offsets`, until `deadline` at most (see `expire`);
   * returns a function that stops waiting.
   */
  expect(
    offsets: ReadonlyArray<NativeTopicPartition>,
    settle: (error: NativeError | null) => void,
    deadline: number = Number.POSITIVE_INFINITY
  ): () => void {
    const entry: Pending = { key: keyOf(offsets), partitions: new Set(offsets.map(partitionOf)), deadline, settle }
    this.pending.push(entry)
    return () => {
      this.pending = this.pending.filter((p) => p !== entry)
    }
  }

  /** Settles with `timedOut` the commits still waiting at their deadline. */
  expire(now: number): void {
    if (!this.pending.some((p) => p.deadline <= now)) return
    const overdue = this.pending.filter((p) => p.deadline <= now)
    this.pending = this.pending.filter((p) => p.deadline > now)
    for (const entry of overdue) entry.settle(timedOut)
  }

  /** The `offset_commit_cb`. */
  readonly onResult = (error: NativeError | null | undefined, offsets: ReadonlyArray<NativeTopicPartition>): void => {
    const key = keyOf(offsets)
    let index = this.pending.findIndex((p) => p.key === key)
    // Only a failure settles a commit it does not name exactly. A success names the offsets it
    // committed: one that names others is the late answer to a commit that stopped waiting, and
    // confirming a newer commit of the same partitions with it would count records as committed
    // that are not (CI, 2026-12-03: F2 on librdkafka, records handled again after their commit
    // was confirmed). The newer commit then waits for its own answer, or times out and is retried.
    if (index < 0 && error)
      index = this.pending.findIndex((p) => offsets.every((o) => p.partitions.has(partitionOf(o))))
    if (index < 0) return
    const [entry] = this.pending.splice(index, 1)
    entry!.settle(error ?? null)
  }
}
