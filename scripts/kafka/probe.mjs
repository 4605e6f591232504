// Answers "does a Kafka broker serve metadata at host:port?" for launch.sh.
// Plain ESM so that it runs without a build; kafkajs comes from the testkit's dependencies.
//
// usage: node probe.mjs <host:port> [waitMs] [pid] [--groups]
//   waitMs    keep trying for this long (0 = one attempt)
//   pid       give up early when this process has exited (the broker we are waiting for)
//   --groups  also wait until the group coordinator serves requests: the first group request
//             of a fresh broker creates __consumer_offsets, and clients see "coordinator not
//             available / loading" errors until it is loaded; better here than in the first test
// exit: 0 answers, 1 no answer in time, 2 the process exited, 3 kafkajs is not installed
import { createRequire } from "node:module"

const args = process.argv.slice(2).filter((arg) => arg !== "--groups")
const groups = process.argv.includes("--groups")
const [address = "127.0.0.1:9092", waitArg = "0", pidArg] = args
const waitMs = Number(waitArg)
const pid = pidArg === undefined ? undefined : Number(pidArg)

let kafkajs
try {
  kafkajs = createRequire(new URL("../../packages/testkit/package.json", import.meta.url))("kafkajs")
} catch {
  process.stderr.write("kafkajs is not installed: run `pnpm install` first\n")
  process.exit(3)
}
const { Kafka, logLevel } = kafkajs

const alive = (p) => {
  try {
    process.kill(p, 0)
    return true
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return error.code === "EPERM"
  }
}

const attempt = async () => {
  const admin = new Kafka({
    clientId: "sluice-probe",
    brokers: [address],
    connectionTimeout: 1_000,
    requestTimeout: 2_000,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING
  }).admin()
  try {
    await admin.connect()
    const cluster = await admin.describeCluster()
    if (cluster.brokers.length === 0) return false
    if (groups) await admin.describeGroups(["sluice-probe"])
    return true
  } catch {
    return false
  } finally {
    await admin.disconnect().catch(() => {})
  }
}

const deadline = Date.now() + waitMs
for (;;) {
  if (await attempt()) process.exit(0)
  if (pid !== undefined && !alive(pid)) process.exit(2)
  if (Date.now() >= deadline) process.exit(1)
  await new Promise((resolve) => setTimeout(resolve, 250))
}
