/**
 * What a batch pipeline (`Pipeline.make({ batch })`) does with one chunk of a partition's
 * records: decode each (a record that cannot be decoded is settled by the policy on its own and
 * left out of the chunk), hand the decoded ones to the handler, and when the handler fails,
 * settle the failure by the policy:
 *
 * - `"record"`: the chunk is split; the handler runs again on each record alone, in offset
 *   order, and each record that fails goes through the policy (retried alone, dead-lettered
 *   alone, …). A record is finished as soon as it is settled, so a `stop` at record n still
 *   commits the records before it.
 * - `"chunk"`: the whole chunk goes through the policy: retried as a whole, dead-lettered or
 *   skipped as a whole, or stopping the consumer.
 *
 * With stall detection (`run`), every attempt is watched: the chunk's, and once split, each
 * record's. A stalled chunk that the stall policy interrupts is settled like a failure: as a
 * whole by the stall policy (`"chunk"`), or split (`"record"`), its records then watched and
 * settled alone.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { RawRecord } from "../ConsumerRecord.js"
import * as Topic from "../Topic.js"

/** Settles `error` of `records` by the pipeline's policy; `rerun` is the handler again (absent for a decoding failure). */
export type Settle<E, F, R> = (
  error: E | Topic.DecodeError,
  records: ReadonlyArray<RawRecord>,
  rerun: Effect.Effect<void, E, R> | undefined
) => Effect.Effect<void, F, R>

/**
 * How a chunk's attempts run: `guard` runs the first attempt of a chunk about to be split on
 * failure (its failure, whatever it is, leads to the split); `settled` runs an attempt and
 * settles its failure by the policy. Without stall detection, the attempt as it is and the
 * policy's settlement.
 */
export interface ChunkRunner<E, F, R> {
  readonly guard: (
    records: ReadonlyArray<RawRecord>,
    attempt: Effect.Effect<void, E, R>
  ) => Effect.Effect<void, unknown, R>
  readonly settled: (
    records: ReadonlyArray<RawRecord>,
    attempt: Effect.Effect<void, E, R>,
    settle: Settle<E, F, R>
  ) => Effect.Effect<void, F, R>
}

const unwatched: ChunkRunner<any, any, any> = {
  guard: (_, attempt) => attempt,
  settled: (records, attempt, settle) => Effect.catchAll(attempt, (error) => settle(error, records, attempt))
}

export const processChunk =
  <K, V, H, E, F, R>(options: {
    readonly topics: ReadonlyMap<string, Topic.Topic<K, V, H>>
    readonly handler: (records: Chunk.Chunk<Topic.TypedRecord<K, V, H>>) => Effect.Effect<void, E, R>
    readonly onFailure: "record" | "chunk"
    readonly settle: Settle<E, F, R>
    /** A chunk (or a record of it) was handled: the flood limit's "in a row" count starts again. */
    readonly handled: () => void
    /** With stall detection: how the attempts are watched. */
    readonly run?: ChunkRunner<E, F, R> | undefined
  }) =>
  (raws: ReadonlyArray<RawRecord>, finished: (index: number) => void): Effect.Effect<void, F, R> =>
    Effect.suspend(() => {
      const decoded: Array<Topic.TypedRecord<K, V, H>> = []
      /** The index in `raws` of each decoded record. */
      const indices: Array<number> = []
      const undecodable: Array<{ readonly index: number; readonly error: Topic.DecodeError }> = []
      for (let i = 0; i < raws.length; i++) {
        const raw = raws[i]!
        const topic = options.topics.get(raw.topic)
        // Not a topic of this pipeline: nothing to do with it.
        if (topic === undefined) continue
        const result = Topic.decode(topic, raw)
        if (Either.isRight(result)) {
          decoded.push(result.right)
          indices.push(i)
        } else {
          undecodable.push({ index: i, error: result.left })
        }
      }
      const settleUndecodable = Effect.forEach(
        undecodable,
        ({ error, index }) => Effect.tap(options.settle(error, [raws[index]!], undefined), () => finished(index)),
        { discard: true }
      )
      if (decoded.length === 0) return settleUndecodable
      const records = Chunk.unsafeFromArray(decoded)
      const attempt = Effect.tap(
        Effect.suspend(() => options.handler(records)),
        options.handled
      )
      const run = options.run ?? (unwatched as ChunkRunner<E, F, R>)
      const chunk = indices.map((i) => raws[i]!)
      const handled: Effect.Effect<void, F, R> =
        options.onFailure === "chunk"
          ? run.settled(chunk, attempt, options.settle)
          : Effect.catchAll(run.guard(chunk, attempt), () =>
              // Split: each record alone, in offset order, each failure through the policy.
              Effect.forEach(
                decoded,
                (record, n) => {
                  const alone = Effect.tap(
                    Effect.suspend(() => options.handler(Chunk.of(record))),
                    options.handled
                  )
                  return run
                    .settled([raws[indices[n]!]!], alone, options.settle)
                    .pipe(Effect.tap(() => finished(indices[n]!)))
                },
                { discard: true }
              )
            )
      return Effect.zipRight(settleUndecodable, handled)
    })
