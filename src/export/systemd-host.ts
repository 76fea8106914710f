// What the exported units depend on from this host: the systemd version (RestartSteps=
// needs 254), where systemctl lives, and which user system units run as.
import {execFileSync} from 'node:child_process'
import {statSync} from 'node:fs'
import {userInfo} from 'node:os'
import {delimiter, join} from 'node:path'

export interface SystemdHost {
  /** The major version, e.g. 252; undefined when neither systemctl nor systemd-analyze answers. */
  version?: number
  systemctl: string
  /** The user system units run as (User=); undefined for root, systemd's default. */
  user?: string
}

export function detectSystemdHost(env: NodeJS.ProcessEnv): SystemdHost {
  const version = systemdVersion(['systemctl', 'systemd-analyze'], env)
  const user = userInfo().uid === 0 ? undefined : userInfo().username
  return {
    ...(version === undefined ? {} : {version}),
    systemctl: findOnPath('systemctl', env) ?? '/usr/bin/systemctl',
    ...(user === undefined ? {} : {user}),
  }
}

/** "systemd 252 (252.38-1~deb12u1)" → 252. */
export function parseSystemdVersion(output: string): number | undefined {
  const match = /^systemd (\d+)/m.exec(output)
  return match ? Number(match[1]) : undefined
}

function systemdVersion(programs: string[], env: NodeJS.ProcessEnv): number | undefined {
  for (const program of programs) {
    try {
      const output = execFileSync(program, ['--version'], {env, encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore']})
      const version = parseSystemdVersion(output)
      if (version !== undefined) return version
    } catch {
      continue // not installed here, or no answer: try the next one
    }
  }
  return undefined
}

function findOnPath(program: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir.startsWith('/')) continue
    const path = join(dir, program)
    try {
      if (statSync(path).isFile()) return path
    } catch {
      continue // not in this folder of PATH
    }
  }
  return undefined
}
