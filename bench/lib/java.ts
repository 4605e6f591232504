/**
 * Workload 1, contestant (d): Apache Kafka's own consumer performance tool
 * (`org.apache.kafka.tools.ConsumerPerformance`, what `bin/kafka-consumer-perf-test.sh`
 * runs) from the broker's jars, with the JVM options that script uses. It polls with the
 * Java consumer and auto-commits (at the next poll and on close, after the records were
 * counted): the ceiling.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { ContestantResult } from "../contestants/contestant.js"
import { rootDir, spawnProcess } from "./child.js"
import { brokers } from "./common.js"

/**
 * The directory of the jars `pnpm kafka:start` fetched for the version packages/testkit/launcher/pom.xml
 * names (as the launcher reads it), if they are there.
 */
export const kafkaLibs = (): { readonly dir: string; readonly version: string } | undefined => {
  const cache = process.env.SLUICE_CACHE ?? path.join(os.homedir(), ".cache", "sluice")
  let version: string | undefined
  try {
    const pom = readFileSync(path.join(rootDir, "packages/testkit/launcher/pom.xml"), "utf8")
    version = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)?.[1]
  } catch {
    return undefined
  }
  if (version === undefined) return undefined
  const dir = path.join(cache, `kafka-${version}`, "libs")
  return existsSync(dir) ? { dir, version } : undefined
}

/** As `bin/kafka-run-class.sh` and `bin/kafka-consumer-perf-test.sh` set them. */
const jvmOptions = [
  "-Xmx512M",
  "-server",
  "-XX:+UseG1GC",
  "-XX:MaxGCPauseMillis=20",
  "-XX:InitiatingHeapOccupancyPercent=35",
  "-XX:+ExplicitGCInvokesConcurrent",
  "-Djava.awt.headless=true"
]

const timeBinary = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined

/**
 * Runs the tool over `topic` with a fresh group. Its CSV line gives the join time
 * (`rebalance.time.ms`) and the time from the join to the last record (`fetch.time.ms`):
 * the latter is its first-to-last figure (it includes the first fetch's round trip).
 */
export const runJava = async (options: {
  readonly topic: string
  readonly groupId: string
  readonly records: number
  readonly timeoutMs: number
}): Promise<ContestantResult & { readonly wallSeconds: number }> => {
  const libs = kafkaLibs()
  if (libs === undefined) throw new Error("Kafka's jars are not in the cache: run `pnpm kafka:start` once")
  const argv = [
    ...jvmOptions,
    "-cp",
    `${libs.dir}/*`,
    "org.apache.kafka.tools.ConsumerPerformance",
    "--bootstrap-server",
    brokers.join(","),
    "--topic",
    options.topic,
    "--messages",
    String(options.records),
    "--group",
    options.groupId,
    "--timeout",
    "60000",
    "--hide-header"
  ]
  let peakKb = 0
  let spawned: Awaited<ReturnType<typeof spawnProcess>>
  if (timeBinary !== undefined) {
    spawned = await spawnProcess(timeBinary, ["-f", "BENCH_MAXRSS_KB %M", "java", ...argv], options)
    const match = /BENCH_MAXRSS_KB (\d+)/.exec(spawned.stderr)
    if (match !== null) peakKb = Number(match[1])
  } else {
    // No GNU time: read the peak from /proc while it runs (Linux only).
    const polling = setInterval(() => {
      for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
        try {
          const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8")
          if (!cmdline.includes(options.groupId)) continue
          const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
          if (hwm !== null) peakKb = Math.max(peakKb, Number(hwm[1]))
        } catch {
          // The process ended meanwhile.
        }
      }
    }, 100)
    try {
      spawned = await spawnProcess("java", argv, options)
    } finally {
      clearInterval(polling)
    }
  }
  // start.time, end.time, MB, MB.sec, nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, …
  const line = spawned.stdout
    .split("\n")
    .map((l) => l.split(",").map((f) => f.trim()))
    .find((fields) => fields.length >= 10 && /^\d+$/.test(fields[4] ?? ""))
  if (spawned.code !== 0 || line === undefined) {
    throw new Error(`ConsumerPerformance failed (exit ${spawned.code}):\n${spawned.stderr.slice(-3000)}`)
  }
  const consumed = Number(line[4])
  const rebalanceMs = Number(line[6])
  const fetchMs = Number(line[7])
  return {
    records: consumed,
    seconds: fetchMs / 1000,
    totalSeconds: (rebalanceMs + fetchMs) / 1000,
    peakRssBytes: peakKb * 1024,
    committed: -1,
    wallSeconds: spawned.wallSeconds
  }
}

/** `java -version`'s first line. */
export const javaVersion = async (): Promise<string | undefined> => {
  try {
    const spawned = await spawnProcess("java", ["-version"], { timeoutMs: 20_000 })
    return spawned.stderr.split("\n")[0]?.trim()
  } catch {
    return undefined
  }
}
