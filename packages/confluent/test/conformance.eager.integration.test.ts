import { conformance } from "./conformance.js"

// The classic protocol with an eager assignor: every rebalance revokes everything.
conformance("eager", { groupProtocol: "classic", assignor: "range" })
