import { describe, expect, it } from "@effect/vitest"
import * as MemoryKafka from "@sluice/testkit/MemoryKafka"
import * as Effect from "effect/Effect"
import { pageViews, program } from "../src/partitioned-stream.js"

describe("partitioned stream with batched commits", () => {
  it.live("counts every view and commits in groups, not per record", () =>
    Effect.gen(function* () {
      const { views, commits } = yield* program(1000)
      expect([...views.values()]).toEqual([200, 200, 200, 200, 200])
      expect(commits).toBeLessThanOrEqual(20) // 1,000 records, groups of up to 100 (or fewer on a timer)
      const kafka = yield* MemoryKafka.MemoryKafka
      const committed = yield* kafka.committed("page-views", pageViews.name)
      expect([...committed.values()].reduce((sum, c) => sum + c.offset, 0)).toBe(1000)
    }).pipe(Effect.provide(MemoryKafka.layerClient({ groupId: "page-views" })))
  )
})
