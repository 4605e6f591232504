import { defineConfig } from "vitest/config"

// One project per package so `vitest run --project @sluice/core` works; the broker tests
// live in the driver packages and share one broker started by .ci/run.
export default defineConfig({
  test: {
    projects: ["packages/*", "examples", "e2e", "bench"],
    // Test files side by side, three at a time: most broker and process tests wait on the
    // broker, their child processes or session timeouts rather than on a CPU, and vitest's
    // default on a 2-core machine (cores - 1 = one file at a time) left CI waiting on them in
    // turn. Suites that share a resource across files (the failover clusters) take distinct
    // ports.
    maxWorkers: 3,
    minWorkers: 1
  }
})
