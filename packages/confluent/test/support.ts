/**
 * Fixtures the driver's tests share.
 */
import type { Subscription } from "@sluice/core/ConsumerDriver"
import * as Duration from "effect/Duration"

/** A subscription as the engine would hand it over; override what a test is about. */
export const subscription = (overrides: Partial<Subscription> = {}): Subscription => ({
  groupId: "g",
  topics: ["t"],
  startFrom: "earliest",
  sessionTimeout: Duration.seconds(10),
  rebalanceTimeout: Duration.seconds(60),
  heartbeatInterval: Duration.millis(500),
  maxBytesPerPartition: 1_048_576,
  clientId: "c",
  ...overrides
})
