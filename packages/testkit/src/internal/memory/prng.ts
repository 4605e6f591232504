/**
 * A small seeded pseudo-random generator (sfc32, seeded through splitmix32).
 *
 * The simulated cluster draws member ids, assignor tie-breaks and random faults from it in
 * synchronous code paths (commit validation, delivery), where going through `effect/Random`
 * would cost an effect per draw. Under `TestClock` the fibers interleave the same way on
 * every run, so the same seed gives the same draws in the same order: a run replays.
 */
export class Prng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor(seed: number) {
    let s = seed >>> 0
    const split = (): number => {
      s = (s + 0x9e3779b9) | 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.a = split()
    this.b = split()
    this.c = split()
    this.d = split()
    // The first outputs of sfc32 are correlated with the seed; discard a few.
    for (let i = 0; i < 12; i++) this.nextUint32()
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** A float in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 4294967296
  }

  /** An integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.nextFloat() * n)
  }

  /** Eight lowercase hex digits. */
  hex8(): string {
    return this.nextUint32().toString(16).padStart(8, "0")
  }
}
