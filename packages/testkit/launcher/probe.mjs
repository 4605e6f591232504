// Answers "does a Kafka broker serve requests at host:port?" for launch.sh and the testkit's
// KafkaBroker layer, and "which node leads this partition / coordinates this group?" for its
// KafkaCluster layer. Plain ESM with no dependency, so it runs from an installed package
// without a build and without a Kafka client: it speaks the few requests it needs of the
// Kafka protocol itself (Metadata v4, FindCoordinator v1, DescribeGroups v1; all of them in
// the range Kafka 4.x still serves, https://kafka.apache.org/protocol).
//
// usage: node probe.mjs <host:port> [waitMs] [pid] [--groups]
//   waitMs    keep trying for this long (0 = one attempt)
//   pid       give up early when this process has exited (the broker we are waiting for)
//   --groups  also wait until the group coordinator serves requests: the first group request
//             of a fresh broker creates __consumer_offsets, and clients see "coordinator not
//             available / loading" errors until it is loaded; better here than in the first test
// exit: 0 answers, 1 no answer in time, 2 the process exited
import { connect } from "node:net"
import { fileURLToPath } from "node:url"

const clientId = "sluice-probe"

/** Kafka's request header v1 and the body, framed by the int32 size. */
const frame = (apiKey, apiVersion, body) => {
  const id = Buffer.from(clientId)
  const header = Buffer.alloc(10 + id.length)
  header.writeInt16BE(apiKey, 0)
  header.writeInt16BE(apiVersion, 2)
  header.writeInt32BE(1, 4) // correlation id: one request per connection
  header.writeInt16BE(id.length, 8)
  id.copy(header, 10)
  const size = Buffer.alloc(4)
  size.writeInt32BE(header.length + body.length)
  return Buffer.concat([size, header, body])
}

const string = (value) => {
  const bytes = Buffer.from(value)
  const out = Buffer.alloc(2 + bytes.length)
  out.writeInt16BE(bytes.length)
  bytes.copy(out, 2)
  return out
}

/** Sends one request and resolves with the response body (after the correlation id). */
const request = (address, message, timeoutMs) =>
  new Promise((resolve, reject) => {
    const at = address.lastIndexOf(":")
    const socket = connect({ host: address.slice(0, at), port: Number(address.slice(at + 1)) })
    let received = Buffer.alloc(0)
    const timer = setTimeout(() => socket.destroy(new Error(`no answer from ${address} in ${timeoutMs} ms`)), timeoutMs)
    socket.on("connect", () => socket.write(message))
    socket.on("data", (chunk) => {
      received = Buffer.concat([received, chunk])
      if (received.length >= 4 && received.length >= 4 + received.readInt32BE(0)) {
        clearTimeout(timer)
        socket.end()
        resolve(received.subarray(8, 4 + received.readInt32BE(0)))
      }
    })
    socket.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.on("close", () => {
      clearTimeout(timer)
      reject(new Error(`${address} closed the connection`))
    })
  })

/** Metadata v4 for no topic: the broker answers with the cluster's brokers. */
const brokerCount = async (address, timeoutMs) => {
  const body = Buffer.alloc(5)
  body.writeInt32BE(0, 0) // topics: an empty array (none, not all)
  body.writeInt8(0, 4) // allow_auto_topic_creation
  const response = await request(address, frame(3, 4, body), timeoutMs)
  return response.readInt32BE(4) // after throttle_time_ms
}

/** FindCoordinator v1 then DescribeGroups v1: 0 when the coordinator serves the group. */
const groupErrorCode = async (address, group, timeoutMs) => {
  const find = await request(address, frame(10, 1, Buffer.concat([string(group), Buffer.from([0])])), timeoutMs)
  const findError = find.readInt16BE(4)
  if (findError !== 0) return findError
  const messageLength = find.readInt16BE(6)
  let at = 8 + Math.max(messageLength, 0) + 4 // error_message, node_id
  const hostLength = find.readInt16BE(at)
  const host = find.toString("utf8", at + 2, at + 2 + hostLength)
  at += 2 + hostLength
  const port = find.readInt32BE(at)
  const count = Buffer.alloc(4)
  count.writeInt32BE(1)
  const describe = await request(`${host}:${port}`, frame(15, 1, Buffer.concat([count, string(group)])), timeoutMs)
  return describe.readInt16BE(8) // after throttle_time_ms and the array's length
}

/** Reads Kafka's primitive types from a response body, front to back. */
const reader = (buffer) => {
  let at = 0
  /** The position of the next `bytes` bytes, moving past them. */
  const take = (bytes) => {
    const start = at
    at += bytes
    return start
  }
  const self = {
    int8: () => buffer.readInt8(take(1)),
    int16: () => buffer.readInt16BE(take(2)),
    int32: () => buffer.readInt32BE(take(4)),
    string: () => {
      const length = self.int16()
      if (length < 0) return null
      const start = take(length)
      return buffer.toString("utf8", start, start + length)
    },
    array: (item) => Array.from({ length: Math.max(self.int32(), 0) }, item)
  }
  return self
}

/**
 * The partitions of `topic` with their leader and in-sync replicas (Metadata v4), as the
 * broker at `address` sees them; a leader of -1 means none. Rejects when the topic is unknown.
 *
 * @param {string} address host:port
 * @param {string} topic
 * @param {number} [timeoutMs]
 * @returns {Promise<Array<{ partition: number, leader: number, replicas: Array<number>, isr: Array<number> }>>}
 */
export const partitionLeaders = async (address, topic, timeoutMs = 2_000) => {
  const count = Buffer.alloc(4)
  count.writeInt32BE(1)
  const body = Buffer.concat([count, string(topic), Buffer.from([0])])
  const r = reader(await request(address, frame(3, 4, body), timeoutMs))
  r.int32() // throttle_time_ms
  r.array(() => [r.int32(), r.string(), r.int32(), r.string()]) // brokers
  r.string() // cluster_id
  r.int32() // controller_id
  const topics = r.array(() => {
    const error = r.int16()
    const name = r.string()
    r.int8() // is_internal
    const partitions = r.array(() => {
      r.int16() // the partition's error code (e.g. LEADER_NOT_AVAILABLE, with leader -1)
      const partition = r.int32()
      const leader = r.int32()
      const replicas = r.array(() => r.int32())
      const isr = r.array(() => r.int32())
      return { partition, leader, replicas, isr }
    })
    return { error, name, partitions }
  })
  const found = topics.find((t) => t.name === topic)
  if (found === undefined || found.error !== 0) {
    throw new Error(`${address} has no metadata for ${topic} (Kafka error code ${found?.error ?? "none"})`)
  }
  return found.partitions.sort((a, b) => a.partition - b.partition)
}

/**
 * The node id of the group coordinator of `group` (FindCoordinator v1), as the broker at
 * `address` sees it. Rejects with the Kafka error code when there is none yet.
 *
 * @param {string} address host:port
 * @param {string} group
 * @param {number} [timeoutMs]
 * @returns {Promise<number>}
 */
export const groupCoordinator = async (address, group, timeoutMs = 2_000) => {
  const r = reader(await request(address, frame(10, 1, Buffer.concat([string(group), Buffer.from([0])])), timeoutMs))
  r.int32() // throttle_time_ms
  const error = r.int16()
  r.string() // error_message
  const node = r.int32()
  if (error !== 0) throw new Error(`${address} names no coordinator for ${group} (Kafka error code ${error})`)
  return node
}

/**
 * One attempt: resolves when the broker answers metadata naming at least one broker (and,
 * with `groups`, when the group coordinator serves requests); rejects with the reason.
 *
 * @param {string} address host:port
 * @param {{ timeoutMs?: number, groups?: boolean }} [options]
 * @returns {Promise<void>}
 */
export const probe = async (address, { timeoutMs = 2_000, groups = false } = {}) => {
  const brokers = await brokerCount(address, timeoutMs)
  if (brokers <= 0) throw new Error(`${address} answered metadata naming no broker`)
  if (groups) {
    const code = await groupErrorCode(address, clientId, timeoutMs)
    if (code !== 0) throw new Error(`the group coordinator is not ready (Kafka error code ${code})`)
  }
}

const alive = (pid) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return error.code === "EPERM"
  }
}

const main = async () => {
  const args = process.argv.slice(2).filter((arg) => arg !== "--groups")
  const groups = process.argv.includes("--groups")
  const [address = "127.0.0.1:9092", waitArg = "0", pidArg] = args
  const deadline = Date.now() + Number(waitArg)
  const pid = pidArg === undefined ? undefined : Number(pidArg)
  for (;;) {
    const ok = await probe(address, { timeoutMs: 2_000, groups }).then(
      () => true,
      () => false
    )
    if (ok) process.exit(0)
    if (pid !== undefined && !alive(pid)) process.exit(2)
    if (Date.now() >= deadline) process.exit(1)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main()
