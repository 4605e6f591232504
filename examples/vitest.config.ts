import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "@sluice/examples",
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000
  }
})
