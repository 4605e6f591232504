/**
 * Workload 7: a rolling deploy (the canary case of issue 13) on the real broker. Three consumer
 * processes (`deployMember.ts`: Sluice, `partition` mode, a `handlerMs` handler) share a
 * 12-partition topic while it receives a steady `rate` records/s; each member in turn gets
 * SIGTERM (a graceful shutdown), and a new process takes its slot (the same static identity
 * under static membership), `rounds` times over. Per contestant:
 *
 * - per restart, the partitions whose handling stopped for more than 100 ms (a gap between two
 *   consecutive handled records), split into those that stayed with a member that was not
 *   restarted (`unmoved`), those that changed member (`moved`), and the restarted member's own;
 * - the longest pause of an unmoved and of a moved partition;
 * - duplicates (records handled twice) and lost records (never handled, yet below the group's
 *   committed offset at the end), and the records not handled yet when the run ended (lag);
 * - the longest gap in steady state before the first restart, for scale (the machine's noise).
 */
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Partitioners } from "kafkajs"
import { args, die, emit } from "../lib/common.js"
import { kafka, withAdmin } from "../lib/kafka.js"
import type { DeploySection } from "../lib/results.js"
import type { DeployMemberArgs } from "./deployMember.js"

export type DeployContestant = DeployMemberArgs["contestant"]

export interface DeployArgs {
  readonly contestants: ReadonlyArray<DeployContestant>
  readonly rounds: number
  /** Records per second, all partitions together. */
  readonly rate: number
  readonly handlerMs: number
}

export type DeployRun = Omit<DeploySection, "rate" | "handler_ms"> & { readonly contestant: DeployContestant }

export interface DeployResult {
  readonly runs: ReadonlyArray<DeployRun>
}

const PARTITIONS = 12
const MEMBERS = 3
const PAUSE_MS = 100
const memberScript = path.join(import.meta.dirname, "deployMember.ts")

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const log = (line: string) => process.stderr.write(`${line}\n`)

const waitFor = async (done: () => boolean, what: string, ms: number, every = 50) => {
  const deadline = Date.now() + ms
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(every)
  }
}

interface Member {
  readonly slot: number
  readonly file: string
  readonly exited: Promise<number | null>
  readonly kill: (signal: NodeJS.Signals) => void
  /** Bytes it wrote to its file so far: more than 0 once it handled a record. */
  readonly handled: () => number
}

interface Handled {
  readonly partition: number
  readonly offset: number
  readonly at: number
  readonly slot: number
}

const readLines = (file: string, slot: number): Array<Handled> =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => {
          const [p, o, t] = l.split(" ")
          return { partition: Number(p), offset: Number(o), at: Number(t), slot }
        })
    : []

const runContestant = async (a: DeployArgs, contestant: DeployContestant): Promise<DeployRun> => {
  const stamp = `${process.pid}-${Date.now().toString(36)}`
  const topic = `sluice-bench-deploy-${contestant}-${stamp}`
  const groupId = `${topic}-group`
  const dir = mkdtempSync(path.join(tmpdir(), "sluice-deploy-"))
  await withAdmin((admin) =>
    admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true })
  )

  // Steady production: every 50 ms, rate / 20 records round-robin over the partitions.
  const producer = kafka("sluice-bench-deploy-producer").producer({
    createPartitioner: Partitioners.DefaultPartitioner
  })
  await producer.connect()
  const produced = new Array<number>(PARTITIONS).fill(0)
  let producing = true
  let seq = 0
  const perTick = Math.max(PARTITIONS, Math.round(a.rate / 20))
  const production = (async () => {
    while (producing) {
      const started = Date.now()
      const messages = Array.from({ length: perTick }, () => {
        const partition = seq++ % PARTITIONS
        return { partition, value: String(seq) }
      })
      await producer.send({ topic, acks: -1, messages })
      for (const m of messages) produced[m.partition]!++
      await sleep(Math.max(0, 50 - (Date.now() - started)))
    }
  })()

  const files: Array<{ file: string; slot: number }> = []
  let generation = 0
  const start = (slot: number): Member => {
    const file = path.join(dir, `slot-${slot}-${generation++}.log`)
    files.push({ file, slot })
    const memberArgs: DeployMemberArgs = { contestant, topic, groupId, out: file, handlerMs: a.handlerMs, slot }
    const child = spawn(process.execPath, ["--import", "tsx", memberScript, JSON.stringify(memberArgs)], {
      stdio: ["ignore", "ignore", "inherit"]
    })
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    return {
      slot,
      file,
      exited,
      kill: (signal) => child.kill(signal),
      handled: () => (existsSync(file) ? statSync(file).size : 0)
    }
  }

  const members: Array<Member> = []
  try {
    for (let slot = 0; slot < MEMBERS; slot++) members.push(start(slot))
    await waitFor(() => members.every((m) => m.handled() > 0), "every member to handle records", 120_000)
    // Steady state, for scale.
    const steadyFrom = Date.now()
    await sleep(3_000)
    const steadyTo = Date.now()
    const windows: Array<{ slot: number; from: number; to: number }> = []
    for (let round = 0; round < a.rounds; round++) {
      for (let slot = 0; slot < MEMBERS; slot++) {
        const from = Date.now()
        const old = members[slot]!
        old.kill("SIGTERM")
        const code = await old.exited
        if (code !== 0) throw new Error(`member ${slot} exited with ${code} on SIGTERM`)
        const fresh = start(slot)
        members[slot] = fresh
        await waitFor(() => fresh.handled() > 0, `the new member ${slot} to handle records`, 90_000)
        // Let the group settle (the second round of a cooperative rebalance, fetches resuming).
        await sleep(3_000)
        windows.push({ slot, from, to: Date.now() })
        log(`deploy ${contestant}: member ${slot} restarted (${((Date.now() - from) / 1000).toFixed(1)} s)`)
      }
    }
    producing = false
    await production
    const total = produced.reduce((x, y) => x + y, 0)
    const distinct = () => {
      const seen = new Set<string>()
      for (const { file, slot } of files) for (const h of readLines(file, slot)) seen.add(`${h.partition}:${h.offset}`)
      return seen.size
    }
    await waitFor(() => distinct() >= total, "every produced record to be handled", 120_000, 1_000).catch((error) =>
      log(String(error))
    )
    for (const m of members) m.kill("SIGTERM")
    await Promise.all(members.map((m) => m.exited))

    // The analysis.
    const all = files.flatMap(({ file, slot }) => readLines(file, slot))
    const byPartition = new Map<number, Array<Handled>>()
    for (const h of all) {
      const list = byPartition.get(h.partition) ?? []
      list.push(h)
      byPartition.set(h.partition, list)
    }
    for (const list of byPartition.values()) list.sort((x, y) => x.at - y.at)
    const keys = new Set(all.map((h) => `${h.partition}:${h.offset}`))
    const duplicates = all.length - keys.size
    // Lost: below the group's committed offset (so no later member would handle it) and never
    // handled. Records above it that were not handled yet when the run ended are lag, not loss.
    const committed = await withAdmin((admin) => admin.fetchOffsets({ groupId, topics: [topic] }))
    let lost = 0
    for (const { partition, offset } of committed[0]?.partitions ?? []) {
      for (let o = 0; o < Number(offset); o++) if (!keys.has(`${partition}:${o}`)) lost++
    }
    const unhandled =
      total - [...keys].filter((k) => Number(k.split(":")[1]) < produced[Number(k.split(":")[0])]!).length

    /** The longest gap between consecutive handled records of `list` within [from, to] (the one spanning `from` included). */
    const longestGap = (list: ReadonlyArray<Handled>, from: number, to: number) => {
      let gap = 0
      let previous: number | undefined
      for (const h of list) {
        if (h.at < from) {
          previous = h.at
          continue
        }
        if (h.at > to) break
        if (previous !== undefined) gap = Math.max(gap, h.at - previous)
        previous = h.at
      }
      return gap
    }
    let steadyGap = 0
    for (const list of byPartition.values()) steadyGap = Math.max(steadyGap, longestGap(list, steadyFrom, steadyTo))

    const paused: Array<number> = []
    const unmovedPaused: Array<number> = []
    const moved: Array<number> = []
    const own: Array<number> = []
    let unmovedMax = 0
    let movedMax = 0
    let ownMax = 0
    for (const w of windows) {
      let p = 0
      let u = 0
      let m = 0
      let o = 0
      for (const list of byPartition.values()) {
        const before = [...list].reverse().find((h) => h.at < w.from)
        const inside = list.filter((h) => h.at >= w.from && h.at <= w.to)
        const slots = new Set([...(before === undefined ? [] : [before.slot]), ...inside.map((h) => h.slot)])
        const gap = longestGap(list, w.from, w.to)
        const isMoved = slots.size > 1
        const isOwn = !isMoved && before?.slot === w.slot
        if (isMoved) m++
        if (isOwn) o++
        if (gap > PAUSE_MS) p++
        if (isMoved) movedMax = Math.max(movedMax, gap)
        else if (isOwn) ownMax = Math.max(ownMax, gap)
        else {
          unmovedMax = Math.max(unmovedMax, gap)
          if (gap > PAUSE_MS) u++
        }
      }
      paused.push(p)
      unmovedPaused.push(u)
      moved.push(m)
      own.push(o)
    }
    return {
      contestant,
      restarts: windows.length,
      paused_per_restart: paused,
      unmoved_paused_per_restart: unmovedPaused,
      moved_per_restart: moved,
      own_per_restart: own,
      moved_per_restart_max: Math.max(0, ...moved),
      unmoved_pause_ms_max: unmovedMax,
      moved_pause_ms_max: movedMax,
      own_pause_ms_max: ownMax,
      steady_gap_ms_max: steadyGap,
      produced: total,
      duplicates,
      lost,
      unhandled_at_end: unhandled
    }
  } finally {
    producing = false
    await production.catch(() => undefined)
    await producer.disconnect().catch(() => undefined)
    for (const m of members) m.kill("SIGKILL")
    await withAdmin((admin) => admin.deleteTopics({ topics: [topic], timeout: 30_000 })).catch(() => undefined)
  }
}

const main = async (a: DeployArgs): Promise<DeployResult> => {
  const runs: Array<DeployRun> = []
  for (const contestant of a.contestants) {
    const run = await runContestant(a, contestant)
    log(
      `deploy ${contestant}: paused per restart ${run.paused_per_restart.join(",")} (unmoved ${run.unmoved_paused_per_restart.join(",")}, moved ${run.moved_per_restart.join(",")}), longest pause unmoved ${run.unmoved_pause_ms_max} ms, moved ${run.moved_pause_ms_max} ms, own ${run.own_pause_ms_max} ms (steady ${run.steady_gap_ms_max} ms); duplicates ${run.duplicates}, lost ${run.lost} of ${run.produced} (${run.unhandled_at_end} not handled yet at the end)`
    )
    runs.push(run)
  }
  return { runs }
}

main(args<DeployArgs>()).then(emit, die)
