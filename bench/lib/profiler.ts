/**
 * The V8 CPU profiler (what `node --cpu-prof` runs) started and stopped around the measured
 * part of a run, so that loading, producing and connecting do not dilute the profile.
 */
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector"

export interface Profiler {
  readonly stop: (file: string) => Promise<void>
}

const post = (session: Session, method: string, params?: object): Promise<unknown> =>
  new Promise((resolve, reject) =>
    session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result)))
  )

/** Starts sampling every 100 µs (`--cpu-prof`'s default is 1 ms; finer shows short functions). */
export const startProfiler = async (): Promise<Profiler> => {
  const session = new Session()
  session.connect()
  await post(session, "Profiler.enable")
  await post(session, "Profiler.setSamplingInterval", { interval: 100 })
  await post(session, "Profiler.start")
  return {
    stop: async (file) => {
      const { profile } = (await post(session, "Profiler.stop")) as { profile: object }
      writeFileSync(file, JSON.stringify(profile))
      session.disconnect()
    }
  }
}
