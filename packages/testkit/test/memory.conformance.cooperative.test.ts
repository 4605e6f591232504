import { conformance } from "./memoryConformance.js"

// The classic protocol, cooperative with the sticky assignor: a rebalance revokes only what moves.
conformance("cooperative", { protocol: "cooperative", assignor: "sticky" })
