import { conformance } from "./memoryConformance.js"

// KIP-848's consumer protocol: the coordinator assigns, members reconcile without a join barrier.
conformance("kip848", { protocol: "consumer", assignor: "sticky" })
