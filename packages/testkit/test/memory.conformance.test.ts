import { suite } from "../src/Conformance.js"
import * as MemoryKafka from "../src/MemoryKafka.js"

// The engine's guarantees on the simulated cluster, under the live clock (the suite is
// written for real brokers too): short timeouts keep the crash tests fast.
suite("memory", MemoryKafka.layer({ seed: 1 }), {
  sessionTimeout: "1 second",
  heartbeatInterval: "100 millis",
  patience: "20 seconds",
  testTimeout: 60_000
})
