import { defineProject } from "vitest/config"

// The benchmark page's drawing and command line, checked from fixtures: no test here measures
// anything or needs the broker.
export default defineProject({
  test: {
    name: "@sluice/bench",
    include: ["test/**/*.test.ts"]
  }
})
