import { defineConfig } from "vitest/config"

// One project per package so `vitest run --project @sluice/core` works; the broker tests
// live in the testkit and kafkajs packages and share one broker started by .ci/run.
export default defineConfig({
  test: {
    projects: ["packages/*", "examples", "e2e"]
  }
})
