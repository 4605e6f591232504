/**
 * A project as a new user makes one, outside the workspace: every package built and packed,
 * the tarballs installed with npm next to the peers from the registry (the versions the
 * workspace runs on), and a user's program from a fixture. The new-user test checks it;
 * the cold-start benchmark (bench/workloads/coldstart.ts) times the program it compiles.
 */
import { execFile } from "node:child_process"
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"

/** The repository's root. */
export const rootDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..")

/** The publishable packages, by folder under packages/ (each is `@sluice/<name>`). */
export const sluicePackages = ["core", "kafkajs", "testkit", "cli"] as const
export type SluicePackage = (typeof sluicePackages)[number]

const execFileAsync = promisify(execFile)

/** Runs a command; a failed one's error carries what it printed (a type error or a failed install says why). */
export const sh = (command: string, args: ReadonlyArray<string>, cwd: string, env: Record<string, string> = {}) =>
  execFileAsync(command, [...args], { cwd, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 }).catch(
    (error: { message: string; stdout?: string; stderr?: string }) => {
      throw new Error(`${error.message}\n${error.stdout ?? ""}${error.stderr ?? ""}`)
    }
  )

/**
 * The version of `name` the workspace itself runs on, found from a workspace package that
 * depends on it (pnpm links dependencies per package): the scratch project pins the same.
 */
export const workspaceVersion = (name: string): string => {
  for (const base of ["examples", "e2e", "."]) {
    try {
      const manifest = createRequire(join(rootDir, base, "package.json")).resolve(`${name}/package.json`)
      return JSON.parse(readFileSync(manifest, "utf8")).version
    } catch {
      // not a dependency of this one
    }
  }
  throw new Error(`${name} is not installed in the workspace`)
}

export interface ScratchProjectOptions {
  /** The temporary directory's name starts with this; default `sluice-new-user-`. */
  readonly prefix?: string | undefined
  /** The user's sources (src/, test/, tsconfig.json); default e2e/fixtures/new-user. */
  readonly fixture?: string | undefined
}

export interface ScratchProject {
  /** The temporary directory: `tarballs/` and `project/`. */
  readonly dir: string
  /** The user's project, its dependencies installed. */
  readonly project: string
  /** Each package's tarball, as `pnpm pack` wrote it. */
  readonly tarballs: Readonly<Record<SluicePackage, string>>
  /** Type-checks the user's program with the project's own tsc and its strict tsconfig, and emits `dist/`. */
  readonly compile: () => Promise<void>
  /**
   * Bundles the compiled program (`dist/main.js`, after `compile`) and everything it imports
   * into one ES module, `dist/main.bundle.mjs`, with the project's own esbuild: what a user
   * deploys to start in a fraction of the time (one file to load instead of ~650 modules).
   */
  readonly bundle: () => Promise<string>
  /** Deletes the temporary directory. */
  readonly remove: () => void
}

// The peers a user installs beside Sluice: the runtime's, and the test runner's for the testkit.
const peers = ["effect", "kafkajs", "@effect/platform", "@effect/platform-node", "vitest", "@effect/vitest"]

/** Where `bundle` writes, relative to the project. */
export const bundleFile = join("dist", "main.bundle.mjs")

/**
 * The esbuild command line the README gives users. kafkajs is CommonJS and requires Node's
 * modules; in an ES module bundle `require` comes from `createRequire`.
 */
export const bundleArgs = [
  join("dist", "main.js"),
  "--bundle",
  "--platform=node",
  "--format=esm",
  "--target=node20",
  "--log-level=warning",
  '--banner:js=import { createRequire } from "node:module"; const require = createRequire(import.meta.url);'
]

/** Builds and packs every package and installs the tarballs into a new project in a temporary directory. */
export const createScratchProject = async (options: ScratchProjectOptions = {}): Promise<ScratchProject> => {
  const dir = mkdtempSync(join(tmpdir(), options.prefix ?? "sluice-new-user-"))
  const remove = () => rmSync(dir, { recursive: true, force: true })
  try {
    await sh(join(rootDir, "node_modules", ".bin", "tsc"), ["-b", "tsconfig.build.json"], rootDir)
    const tarballs = {} as Record<SluicePackage, string>
    for (const name of sluicePackages) {
      const { stdout } = await sh(
        "pnpm",
        ["pack", "--pack-destination", join(dir, "tarballs")],
        join(rootDir, "packages", name)
      )
      tarballs[name] = stdout.trim().split("\n").at(-1)!
    }
    const project = join(dir, "project")
    cpSync(options.fixture ?? join(rootDir, "e2e", "fixtures", "new-user"), project, { recursive: true })
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify(
        {
          name: "sluice-new-user",
          private: true,
          type: "module",
          dependencies: {
            ...Object.fromEntries(sluicePackages.map((name) => [`@sluice/${name}`, `file:${tarballs[name]}`])),
            ...Object.fromEntries(peers.map((name) => [name, workspaceVersion(name)]))
          },
          // skipLibCheck is off in the user's tsconfig, so Sluice's .d.ts are checked too;
          // @effect/platform-node's own declarations name `ws`, whose types a user adds.
          devDependencies: {
            typescript: workspaceVersion("typescript"),
            "@types/node": "^20.19.0",
            "@types/ws": "^8.5.0",
            esbuild: workspaceVersion("esbuild")
          }
        },
        null,
        2
      )
    )
    await sh("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], project)
    const compile = async () => {
      await sh(join(project, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], project)
    }
    const bundle = async () => {
      await sh(join(project, "node_modules", ".bin", "esbuild"), [...bundleArgs, `--outfile=${bundleFile}`], project)
      return bundleFile
    }
    return { dir, project, tarballs, compile, bundle, remove }
  } catch (error) {
    // SLUICE_KEEP_SCRATCH keeps it to look into, as the new-user test does after its run.
    if (process.env.SLUICE_KEEP_SCRATCH === undefined) remove()
    throw error
  }
}
