import { conformance } from "./memoryConformance.js"

// The classic protocol, eager: every rebalance revokes everything (the cluster's default).
conformance("eager", { protocol: "eager", assignor: "range" })
