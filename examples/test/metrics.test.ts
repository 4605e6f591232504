import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Runner from "../src/internal/Runner.js"
import { groupId, payments, program, prometheus } from "../src/metrics.js"

/** Fetches the exporter's page. */
const scrape = (port: number) =>
  Effect.tryPromise(() => fetch(`http://127.0.0.1:${port}/metrics`).then((response) => response.text()))

/** The value of the sample `name{labels}` on a Prometheus page, if it is there. */
const sample = (page: string, name: string, labels: Record<string, string>): number | undefined => {
  for (const line of page.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue
    const close = line.lastIndexOf("}")
    const tags = new Map(
      [...line.slice(name.length + 1, close).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!] as const)
    )
    if (Object.entries(labels).every(([k, v]) => tags.get(k) === v)) return Number(line.slice(close + 1).trim())
  }
  return undefined
}

describe("metrics example", () => {
  it.live("O2 /metrics serves Sluice's metrics in Prometheus format, tagged by group, topic and partition", () =>
    Effect.gen(function* () {
      const port = 20_000 + Math.floor(Math.random() * 20_000)
      let page = ""
      const handled = (p: string) =>
        sample(page, "sluice_records_handled_total", { group: groupId, topic: payments.name, partition: p }) ?? 0
      // Scrapes until every one of the 60 payments is counted and committed, then stops the program.
      const scraped = Effect.gen(function* () {
        for (let i = 0; i < 300; i++) {
          yield* Effect.sleep("100 millis")
          page = yield* scrape(port).pipe(Effect.orElseSucceed(() => ""))
          const lag = [0, 1, 2].map((p) =>
            sample(page, "sluice_consumer_lag", { group: groupId, topic: payments.name, partition: String(p) })
          )
          if (handled("0") + handled("1") + handled("2") === 60 && lag.every((l) => l === 0)) return
        }
      })
      yield* program(60, scraped).pipe(
        Effect.provide(Layer.merge(Runner.kafka({ groupId, metricsInterval: "50 millis" }), prometheus(port)))
      )
      expect(handled("0") + handled("1") + handled("2")).toBe(60)
      const deadLettered = [0, 1, 2].map(
        (p) =>
          sample(page, "sluice_records_dead_lettered_total", {
            group: groupId,
            topic: payments.name,
            partition: String(p)
          }) ?? 0
      )
      expect(deadLettered.reduce((a, b) => a + b, 0)).toBe(6)
      expect(page).toMatch(/# TYPE sluice_consumer_lag gauge/)
      expect(page).toMatch(/# TYPE sluice_handler_duration_seconds histogram/)
      expect(sample(page, "sluice_commits_total", { group: groupId })).toBeGreaterThan(0)
    })
  )
})
