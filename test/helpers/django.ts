// The platform's own kind of client: a small Django project (test/fixtures/django/platform)
// with the guide's ServiceEndpoint model, run by Debian's python3-django against an SQLite
// file that qm uses as its registry too.
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {PYTHON} from '../requirements.js'

const MANAGE = fileURLToPath(new URL('../fixtures/django/platform/manage.py', import.meta.url))

export interface DjangoPlatform {
  /** Runs manage.py to the end; throws with its output when it fails. */
  manage(...args: string[]): string
  /** Starts hold_registry_lock and resolves once the lock is held. */
  holdLock(seconds: number, options?: {exclusive?: boolean}): Promise<HeldLock>
  /** The rows as Django's ORM sees them: [name, host, port, is_active]. */
  rows(): [string, string, number, boolean][]
}

export interface HeldLock {
  child: ChildProcess
  /** The wall-clock time (ms) at which Django rolled back and the lock went. */
  releasedAtMs: Promise<number>
}

export function djangoPlatform(database: string): DjangoPlatform {
  const env = {...process.env, QM_PLATFORM_DB: database, PYTHONDONTWRITEBYTECODE: '1'}
  const manage = (...args: string[]): string => {
    const result = spawnSync(PYTHON, [MANAGE, ...args], {env, encoding: 'utf8'})
    if (result.status !== 0) throw new Error(`manage.py ${args.join(' ')} exited ${result.status}: ${result.stderr}${result.stdout}`)
    return result.stdout
  }
  return {
    manage,
    holdLock: (seconds, options = {}) =>
      new Promise((resolve, reject) => {
        const child = spawn(PYTHON, [MANAGE, 'hold_registry_lock', '--seconds', String(seconds), ...(options.exclusive ? ['--exclusive'] : [])], {env, stdio: ['ignore', 'pipe', 'pipe']})
        let output = ''
        const releasedAtMs = new Promise<number>((done, fail) =>
          child.once('exit', (code) => {
            const at = /released (\d+)/.exec(output)?.[1]
            if (code === 0 && at !== undefined) done(Number(at))
            else fail(new Error(`hold_registry_lock exited ${code}: ${output}`))
          }),
        )
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString()
          if (output.includes('locked\n')) resolve({child, releasedAtMs})
        })
        child.once('exit', (code) => reject(new Error(`hold_registry_lock exited ${code} before it held the lock: ${output}`)))
      }),
    rows: () => {
      const script = 'import json; from core.models import ServiceEndpoint as E; print(json.dumps([[e.name, e.host, e.port, e.is_active] for e in E.objects.order_by("port")]))'
      return JSON.parse(manage('shell', '-c', script)) as [string, string, number, boolean][]
    },
  }
}
