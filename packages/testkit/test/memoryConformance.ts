/**
 * The conformance suite (G1–G9) on the simulated cluster with one group protocol: each
 * protocol's test file calls `conformance` once, so a report names the protocol of every run
 * (`memory eager`, `memory cooperative`, `memory kip848`), as the librdkafka driver's files do.
 */
import { suite } from "../src/Conformance.js"
import * as MemoryKafka from "../src/MemoryKafka.js"

export const conformance = (name: string, options: Partial<MemoryKafka.Options>): void =>
  // Under the live clock (the suite is written for real brokers too): short timeouts keep the
  // crash tests fast.
  suite(`memory ${name}`, MemoryKafka.layer({ seed: 1, ...options }), {
    sessionTimeout: "1 second",
    heartbeatInterval: "100 millis",
    patience: "20 seconds",
    testTimeout: 60_000
  })
