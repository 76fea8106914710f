// What the tests need from the machine beyond npm, each named by the Debian package that
// provides it (all of them listed in scripts/debian-packages.txt, which `npm run setup`
// installs). test/global-setup.ts checks them once per run; test files ask `lacks(...)`.
import {spawnSync} from 'node:child_process'
import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'

export const PYTHON = '/usr/bin/python3'

export const REQUIREMENTS = {
  'python3-grpcio': () => pythonImports('grpc'),
  'python3-grpc-tools': () => pythonFinds('grpc_tools'),
  'python3-pkg-resources': () => pythonImports('pkg_resources'),
  postgresql: () => (postgresBinDir() ? undefined : 'no initdb under /usr/lib/postgresql/*/bin'),
  systemd: () => runs('systemd-analyze', ['--version']),
  debootstrap: () => runs('debootstrap', ['--version']),
  'systemd-container': () => runs('systemd-nspawn', ['--version']),
  'python3-django': () => pythonImports('django'),
  tmux: () => runs('tmux', ['-V']),
  prometheus: () => runs('prometheus', ['--version']),
  iproute2: () => runs('ip', ['netns', 'list']),
} satisfies Record<string, () => string | undefined>

export type Requirement = keyof typeof REQUIREMENTS

/** Each requirement the machine lacks, with what the check saw. */
export function findMissingRequirements(): {package: Requirement; reason: string}[] {
  const missing: {package: Requirement; reason: string}[] = []
  for (const [name, check] of Object.entries(REQUIREMENTS)) {
    const reason = check()
    if (reason !== undefined) missing.push({package: name as Requirement, reason})
  }
  return missing
}

/** The folder of PostgreSQL's server programs (the newest version installed), if any. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root)
    .filter((name) => existsSync(join(root, name, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin')
}

function pythonImports(module: string): string | undefined {
  return runs(PYTHON, ['-c', `import ${module}`])
}

// grpc_tools is looked for rather than imported: Debian 12's imports pkg_resources, which is
// a requirement of its own, and each missing package should be named once.
function pythonFinds(module: string): string | undefined {
  return runs(PYTHON, ['-c', `import importlib.util, sys; sys.exit(importlib.util.find_spec(${JSON.stringify(module)}) is None)`], `${PYTHON} has no module ${module}`)
}

function runs(command: string, args: string[], failure?: string): string | undefined {
  const result = spawnSync(command, args, {encoding: 'utf8'})
  if (result.error) return `${command}: ${result.error.message}`
  if (result.status !== 0) return failure ?? (result.stderr.trim().split('\n').at(-1) || `${command} exited with ${result.status}`)
  return undefined
}
