/**
 * Prints where a CPU profile's time went: `node --import tsx bench/profile.ts <file.cpuprofile> [top]`.
 * The benchmarks write theirs to bench/results/profiles/ (`pnpm bench --profile`, or where a
 * goal is missed); any `node --cpu-prof` profile works too.
 */
import { summarize } from "./lib/profile.js"

const file = process.argv[2]
if (file === undefined) {
  console.error("usage: node --import tsx bench/profile.ts <file.cpuprofile> [top]")
  process.exit(2)
}
const summary = summarize(file, Number(process.argv[3] ?? 30))
console.log(`${summary.seconds.toFixed(2)} s sampled\n\nby area (self time):`)
for (const area of summary.areas) console.log(`${(area.share * 100).toFixed(1).padStart(6)} %  ${area.name}`)
console.log("\nby function (self time):")
for (const fn of summary.functions) console.log(`${(fn.share * 100).toFixed(1).padStart(6)} %  ${fn.name}`)
