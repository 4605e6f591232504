/**
 * What every benchmark child process shares: its arguments, how it reports, and the
 * measurements it takes of itself.
 *
 * A child gets its arguments as one JSON object in argv[2] and prints one result line,
 * `BENCH_RESULT {json}`, on stdout; anything else it prints (client logs) is ignored.
 */

export const resultPrefix = "BENCH_RESULT "

/** The brokers of the real-broker workloads: `KAFKA_BROKERS` (comma-separated) or the local one. */
export const brokers: ReadonlyArray<string> = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092")
  .split(",")
  .map((b) => b.trim())
  .filter((b) => b.length > 0)

/** The child's arguments, as the orchestrator passed them. */
export const args = <A>(): A => JSON.parse(process.argv[2] ?? "{}") as A

/** Prints the result line and exits (clients' timers must not keep a finished child alive). */
export const emit = (result: object): never => {
  process.stdout.write(`${resultPrefix}${JSON.stringify(result)}\n`, () => process.exit(0))
  // Keeps the process alive until the write callback exits it.
  return undefined as never
}

/** Fails the child with a message the orchestrator shows. */
export const die = (error: unknown): never => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exit(1)
}

/** The peak resident set size of this process so far, in bytes. */
export const peakRss = (): number => process.resourceUsage().maxRSS * 1024

/** A full garbage collection where node runs with `--expose-gc`; nothing otherwise. */
export const gc = (): void => (globalThis as { gc?: () => void }).gc?.()

/** Milliseconds on a monotonic clock. */
export const now = (): number => performance.now()

/**
 * Handler latency of the keyed workload: an integer number of milliseconds, uniform in
 * 0–5 (mean 2.5 ms, as Parallel Consumer's benchmark), fixed per offset so that every run
 * and every cluster does the same work.
 */
export const latencyOf = (offset: number): number => {
  // splitmix32 of the offset: cheap, well spread, deterministic.
  let z = (offset + 0x9e3779b9) | 0
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  z = (z ^ (z >>> 16)) >>> 0
  return z % 6
}

/**
 * The least time any scheduler could take for the keyed workload: a key's records run one
 * after another, so the longest key's chain of sleeps bounds it from below, and so does the
 * total divided by the concurrency. The "ideal" assumes every chain is equally long;
 * with random latencies some are longer, so this floor sits a little above the ideal.
 */
export const keyedFloorMs = (records: number, keys: number, concurrency: number): number => {
  const chains = new Float64Array(Math.min(keys, records))
  let total = 0
  for (let offset = 0; offset < records; offset++) {
    const ms = latencyOf(offset)
    chains[offset % keys]! += ms
    total += ms
  }
  let longest = 0
  for (const chain of chains) longest = Math.max(longest, chain)
  return Math.max(longest, total / Math.min(keys, concurrency))
}

/** The record key of the keyed workload: `keys` distinct keys, assigned round-robin by offset. */
export const keyOf = (offset: number, keys: number): Buffer => Buffer.from(`key-${offset % keys}`)

/**
 * Waits until `done()` holds, checking every `everyMs`; fails after `timeoutMs` with what
 * `progress()` says.
 */
export const waitUntil = (done: () => boolean, timeoutMs: number, progress: () => string, everyMs = 5): Promise<void> =>
  new Promise((resolve, reject) => {
    const started = Date.now()
    const check = () => {
      if (done()) return resolve()
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out after ${timeoutMs} ms: ${progress()}`))
      setTimeout(check, everyMs)
    }
    check()
  })
