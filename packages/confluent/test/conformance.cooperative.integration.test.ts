import { conformance } from "./conformance.js"

// The classic protocol with cooperative-sticky: a rebalance revokes only what moves.
conformance("cooperative", { groupProtocol: "classic", assignor: "cooperative-sticky" })
