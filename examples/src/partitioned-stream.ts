/**
 * `pnpm exec tsx examples/src/partitioned-stream.ts`: a partitioned stream with batched commits.
 * `Consumer.partitionedStream` gives one stream per assigned partition (ending when the partition
 * is revoked); each is processed one record at a time, partitions side by side, and
 * `CommittableRecord.commitWithin` commits its offsets by 100 records or every half second,
 * whichever comes first — one commit per group instead of one per record.
 */
import * as CommittableRecord from "@sluice/core/CommittableRecord"
import * as Consumer from "@sluice/core/Consumer"
import * as Producer from "@sluice/core/Producer"
import * as Topic from "@sluice/core/Topic"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Runner from "./internal/Runner.js"

const PageView = Schema.Struct({ page: Schema.String, user: Schema.String })
export const pageViews = Topic.make({
  name: Runner.named("page-views"),
  key: Schema.String,
  value: Schema.parseJson(PageView)
})

export const program = (count: number) =>
  Effect.gen(function* () {
    yield* Runner.createTopics([{ name: pageViews.name, partitions: 3 }])
    const producer = yield* Producer.Producer
    yield* producer.send(
      pageViews,
      Array.from({ length: count }, (_, i) => ({
        key: `user-${i % 11}`,
        value: { page: `/p/${i % 5}`, user: `user-${i % 11}` }
      }))
    )
    const views = new Map<string, number>()
    const committed = new Map<string, number>()
    let commits = 0
    const progress = yield* Runner.countdown(count)
    const countView = (view: typeof PageView.Type) =>
      Effect.sync(() => views.set(view.page, (views.get(view.page) ?? 0) + 1))
    // commitWithin emits each batch once committed: count what it committed, to stop when all is.
    const committedUpTo = (batch: CommittableRecord.CommittableOffsetBatch) =>
      Effect.forEach(batch.offsets, ([partition, { offset }]) => {
        const before = committed.get(partition) ?? 0
        committed.set(partition, offset)
        commits++
        return progress.tick(offset - before)
      })

    const counting = Consumer.partitionedStream(pageViews).pipe(
      Stream.flatMap(
        (partition) =>
          partition.records.pipe(
            Stream.tap((r) => countView(r.record.value)),
            CommittableRecord.commitWithin(100, "500 millis"),
            Stream.tap(committedUpTo)
          ),
        { concurrency: "unbounded" }
      ),
      Stream.runDrain
    )
    yield* Effect.raceFirst(counting, progress.done)
    const total = [...views.values()].reduce((a, b) => a + b, 0)
    yield* Effect.log(`counted ${total} page views of ${views.size} pages in ${commits} commits`)
    return { views, commits }
  })

Runner.runMain(
  import.meta.url,
  program(1000).pipe(Effect.provide(Runner.kafka({ groupId: Runner.named("page-views") })))
)
