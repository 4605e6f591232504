/**
 * Sluice as a new user gets it: every package is built and packed, the tarballs are installed
 * with npm into a scratch project outside the workspace (with the peers from the registry), a
 * user's program is type-checked with a strict NodeNext tsconfig and run with plain `node` (no
 * tsx, no loader) against the broker, and a user's vitest file runs on the simulated cluster
 * and on the real broker; the same program bundled by esbuild into one file runs too. Node binaries beyond the one running the tests (Node 24 in CI) come
 * from `SLUICE_E2E_NODES` (colon separated paths).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { brokerForTests } from "@sluice/testkit/KafkaBroker"
import { Kafka, logLevel, Partitioners } from "kafkajs"
import { bundleFile, createScratchProject, type ScratchProject, sh, sluicePackages } from "../lib/scratchProject.js"

const broker = await brokerForTests()
const nodes = [process.execPath, ...(process.env.SLUICE_E2E_NODES ?? "").split(":").filter((p) => p !== "")]

let scratch: ScratchProject
let project = ""

beforeAll(async () => {
  scratch = await createScratchProject()
  project = scratch.project
})

afterAll(() => {
  if (scratch !== undefined && process.env.SLUICE_KEEP_SCRATCH === undefined) scratch.remove()
})

describe("a new user's project", () => {
  it("each tarball ships dist, src, README, LICENSE and CHANGELOG, and no tests or tsconfig", async () => {
    for (const name of sluicePackages) {
      const { stdout } = await sh("tar", ["-tzf", scratch.tarballs[name]], scratch.dir)
      const files = stdout.trim().split("\n")
      for (const file of ["package/dist/index.js", "package/dist/index.d.ts", "package/README.md", "package/LICENSE"]) {
        expect(files, `${name} ships ${file}`).toContain(file)
      }
      expect(
        files.filter((file) => /\/test\/|vitest\.config|tsconfig|\.tsbuildinfo/.test(file)),
        name
      ).toEqual([])
      const manifest = JSON.parse(
        (await sh("tar", ["-xzOf", scratch.tarballs[name], "package/package.json"], scratch.dir)).stdout
      )
      expect(manifest.exports["."].import, `${name} exports built files`).toBe("./dist/index.js")
      expect(manifest.peerDependencies.effect, `${name} takes effect as a peer`).toMatch(/^\^3\./)
    }
  })

  it("type-checks a user's program under a strict NodeNext tsconfig", async () => {
    await scratch.compile()
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
    it("the sluice executable (@sluice/cli) runs from the installed package: an unknown group is a message and exit 1", async () => {
      const sluice = join(project, "node_modules", ".bin", "sluice")
      const failure = await sh(
        sluice,
        ["lag", "--group", "e2e-no-such-group", "--brokers", broker!.brokers.join(",")],
        project
      ).then(
        () => new Error("exited 0"),
        (error: Error) => error
      )
      expect(failure.message).toMatch(/sluice lag: group "e2e-no-such-group" not found/)
      const { stdout } = await sh(sluice, ["--version"], project)
      expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
    })

    for (const node of nodes) {
      it(`runs with plain node ${node === process.execPath ? process.version : node}: consumes, exits 0 on SIGTERM, everything committed`, () =>
        consumesAndCommits(node, join("dist", "main.js"), "plain"))

      it(`runs bundled into one file by esbuild, on node ${node === process.execPath ? process.version : node}: consumes, exits 0 on SIGTERM, everything committed`, async () => {
        await scratch.bundle()
        await consumesAndCommits(node, bundleFile, "bundled")
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

/**
 * Runs the user's program (`entry`, relative to the project) with `node` against the broker
 * until it handled every record of a new topic, stops it with SIGTERM, and checks that it
 * exited 0 with every record handled once and committed.
 */
const consumesAndCommits = async (node: string, entry: string, label: string): Promise<void> => {
  const version = (await sh(node, ["--version"], project)).stdout.trim()
  const topic = `new-user-${label}-${version.replace(/\W/g, "")}-${Date.now().toString(36)}`
  const group = `${topic}-group`
  const out = join(scratch.dir, `${topic}.txt`)
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
    const child = spawn(node, [entry], {
      cwd: project,
      env: {
        ...process.env,
        KAFKA_BROKERS: broker!.brokers.join(","),
        TOPIC: topic,
        KAFKA_GROUP_ID: group,
        OUT: out
      },
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
}

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
