import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "@sluice/e2e",
    include: ["test/**/*.test.ts"],
    // npm install from the registry and a native tsc run take a while on 2 cores.
    testTimeout: 600_000,
    hookTimeout: 600_000
  }
})
