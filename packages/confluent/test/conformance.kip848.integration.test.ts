import { conformance } from "./conformance.js"

// KIP-848's consumer protocol: the broker assigns, incrementally, without a join barrier.
conformance("kip848", { groupProtocol: "consumer" })
