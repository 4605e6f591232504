/**
 * Sluice as a new user gets it: every package is built and packed, the tarballs are installed
 * with npm into a scratch project outside the workspace (with the peers from the registry), a
 * user's program is type-checked with a strict NodeNext tsconfig and run with plain `node` (no
 * tsx, no loader) against the broker, and a user's vitest file runs on the simulated cluster
 * and on the real broker. Node binaries beyond the one running the tests (Node 24 in CI) come
 * from `SLUICE_E2E_NODES` (colon separated paths).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { Kafka, logLevel, Partitioners } from "kafkajs"

const run = promisify(execFile)
const broker = await brokerForTests()
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
const packages = ["core", "kafkajs", "testkit"] as const
const nodes = [process.execPath, ...(process.env.SLUICE_E2E_NODES ?? "").split(":").filter((p) => p !== "")]

// What the workspace itself runs on: the scratch project pins the same peers. Each is found
// from a workspace package that depends on it (pnpm links dependencies per package).
const workspaceVersion = (name: string): string => {
  for (const base of ["examples", "e2e", "."]) {
    try {
      const manifest = createRequire(join(root, base, "package.json")).resolve(`${name}/package.json`)
      return JSON.parse(readFileSync(manifest, "utf8")).version
    } catch {
      // not a dependency of this one
    }
  }
  throw new Error(`${name} is not installed in the workspace`)
}

let scratch = ""
let project = ""
const tarballs: Record<string, string> = {}

// A failed command's error carries what it printed: a type error or a failed install says why.
const sh = (command: string, args: ReadonlyArray<string>, cwd: string, env: Record<string, string> = {}) =>
  run(command, [...args], { cwd, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 }).catch(
    (error: { message: string; stdout?: string; stderr?: string }) => {
      throw new Error(`${error.message}\n${error.stdout ?? ""}${error.stderr ?? ""}`)
    }
  )

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "sluice-new-user-"))
  await sh(join(root, "node_modules", ".bin", "tsc"), ["-b", "tsconfig.build.json"], root)
  for (const name of packages) {
    const { stdout } = await sh(
      "pnpm",
      ["pack", "--pack-destination", join(scratch, "tarballs")],
      join(root, "packages", name)
    )
    tarballs[name] = stdout.trim().split("\n").at(-1)!
  }
  project = join(scratch, "project")
  cpSync(join(root, "e2e", "fixtures", "new-user"), project, { recursive: true })
  const peers = ["effect", "kafkajs", "@effect/platform", "@effect/platform-node", "vitest", "@effect/vitest"]
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify(
      {
        name: "sluice-new-user",
        private: true,
        type: "module",
        dependencies: {
          ...Object.fromEntries(packages.map((name) => [`@sluice/${name}`, `file:${tarballs[name]}`])),
          ...Object.fromEntries(peers.map((name) => [name, workspaceVersion(name)]))
        },
        // skipLibCheck is off in the user's tsconfig, so Sluice's .d.ts are checked too;
        // @effect/platform-node's own declarations name `ws`, whose types a user adds.
        devDependencies: {
          typescript: workspaceVersion("typescript"),
          "@types/node": "^20.19.0",
          "@types/ws": "^8.5.0"
        }
      },
      null,
      2
    )
  )
  await sh("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], project)
})

afterAll(() => {
  if (scratch !== "" && process.env.SLUICE_KEEP_SCRATCH === undefined) rmSync(scratch, { recursive: true, force: true })
})

describe("a new user's project", () => {
  it("each tarball ships dist, src, README, LICENSE and CHANGELOG, and no tests or tsconfig", async () => {
    for (const name of packages) {
      const { stdout } = await sh("tar", ["-tzf", tarballs[name]!], scratch)
      const files = stdout.trim().split("\n")
      for (const file of ["package/dist/index.js", "package/dist/index.d.ts", "package/README.md", "package/LICENSE"]) {
        expect(files, `${name} ships ${file}`).toContain(file)
      }
      expect(
        files.filter((file) => /\/test\/|vitest\.config|tsconfig|\.tsbuildinfo/.test(file)),
        name
      ).toEqual([])
      const manifest = JSON.parse((await sh("tar", ["-xzOf", tarballs[name]!, "package/package.json"], scratch)).stdout)
      expect(manifest.exports["."].import, `${name} exports built files`).toBe("./dist/index.js")
      expect(manifest.peerDependencies.effect, `${name} takes effect as a peer`).toMatch(/^\^3\./)
    }
  })

  it("type-checks a user's program under a strict NodeNext tsconfig", async () => {
    await sh(join(project, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], project)
    expect(existsSync(join(project, "dist", "main.js"))).toBe(true)
  })

  it("cannot import @sluice/*/internal modules", async () => {
    for (const specifier of ["@sluice/core/internal/engine", "@sluice/testkit/internal/memory/cluster"]) {
      const attempt = sh(
        process.execPath,
        ["--input-type=module", "-e", `await import(${JSON.stringify(specifier)})`],
        project
      )
      await expect(attempt).rejects.toThrow(/ERR_PACKAGE_PATH_NOT_EXPORTED/)
    }
  })

  it("loads one copy of effect", async () => {
    const copies = (dir: string): Array<string> =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        if (!entry.isDirectory()) return []
        const path = join(dir, entry.name)
        if (entry.name === "effect" && existsSync(join(path, "package.json"))) return [path, ...copies(path)]
        return copies(path)
      })
    expect(copies(join(project, "node_modules"))).toEqual([join(project, "node_modules", "effect")])
  })

  describe.skipIf(broker === undefined)("on the real broker", () => {
    for (const node of nodes) {
      it(`runs with plain node ${node === process.execPath ? process.version : node}: consumes, exits 0 on SIGTERM, everything committed`, async () => {
        const version = (await sh(node, ["--version"], project)).stdout.trim()
        const topic = `new-user-${version.replace(/\W/g, "")}-${Date.now().toString(36)}`
        const group = `${topic}-group`
        const out = join(scratch, `${topic}.txt`)
        const kafka = new Kafka({ clientId: "sluice-e2e", brokers: [...broker!.brokers], logLevel: logLevel.WARN })
        const admin = kafka.admin()
        const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
        await admin.connect()
        await producer.connect()
        try {
          await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true })
          const count = 300
          await producer.send({
            topic,
            acks: -1,
            messages: Array.from({ length: count }, (_, i) => ({
              key: `order-${i}`,
              value: JSON.stringify({ id: `order-${i}`, amount: i })
            }))
          })
          const child = spawn(node, [join("dist", "main.js")], {
            cwd: project,
            env: { ...process.env, KAFKA_BROKERS: broker!.brokers.join(","), TOPIC: topic, GROUP: group, OUT: out },
            stdio: ["ignore", "inherit", "inherit"]
          })
          const lines = () =>
            existsSync(out)
              ? readFileSync(out, "utf8")
                  .split("\n")
                  .filter((l) => l !== "")
              : []
          await waitUntil(() => lines().length >= count || child.exitCode !== null, 120_000)
          child.kill("SIGTERM")
          expect(await exitCode(child)).toBe(0)
          expect(new Set(lines()).size).toBe(count)
          const committed = await admin.fetchOffsets({ groupId: group, topics: [topic] })
          const total = committed[0]!.partitions.reduce((sum, p) => sum + Number(p.offset), 0)
          expect(total).toBe(count)
        } finally {
          await producer.disconnect()
          await admin.disconnect()
        }
      })

      it(`runs a user's vitest file on node ${node === process.execPath ? process.version : node}: the simulated cluster and KafkaBroker.layer`, async () => {
        const vitest = join(project, "node_modules", "vitest", "vitest.mjs")
        const { stdout } = await sh(node, [vitest, "run", "--reporter=verbose"], project, {
          KAFKA_BROKERS: broker!.brokers.join(",")
        })
        expect(stdout).toMatch(/2 passed/)
      })
    }
  })
})

const waitUntil = async (predicate: () => boolean, millis: number): Promise<void> => {
  const deadline = Date.now() + millis
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`not done within ${millis} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const exitCode = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode)
    child.once("exit", (code) => resolve(code))
  })
