// A service that floods its log at 20 MB/s: logs.max_size must hold to the byte, the folder
// must never hold more than (keep + 1) × max_size, no line may be lost at a rotation, and
// all of it must go on when the daemon dies.
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {isAlive, logWriters, makeProject, service, waitFor} from '../helpers/project.js'

const MAX = 1024 * 1024

function sizes(dir: string): Map<string, number> {
  const found = new Map<string, number>()
  for (const name of readdirSync(dir)) {
    try {
      found.set(name, statSync(join(dir, name)).size)
    } catch {
      continue // renamed between the listing and the stat
    }
  }
  return found
}

describe('a service that floods its log', () => {
  it('keeps every file within max_size and the folder within (keep + 1) × max_size, with no line lost, also after the daemon dies', async () => {
    const project = await makeProject()
    project.writeManifest(service('flood', 'flood-server.mjs', '    logs: {max_size: 1MB, keep: 2}\n'))
    const started = await project.qm('start')
    expect(started.exitCode, started.stderr).toBe(0)
    const logs = join(project.dir, '.qm', 'logs')
    let largestFile = 0
    let peakFolder = 0
    let rotations = 0
    let lastInode = 0
    const watchFor = async (ms: number) => {
      const until = performance.now() + ms
      while (performance.now() < until) {
        const found = sizes(logs)
        largestFile = Math.max(largestFile, ...found.values())
        peakFolder = Math.max(peakFolder, [...found.values()].reduce((a, b) => a + b, 0))
        try {
          const inode = statSync(join(logs, 'flood.log')).ino
          if (inode !== lastInode) rotations++
          lastInode = inode
        } catch {
          // between a rename and the new file
        }
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    }
    await watchFor(3000)
    const daemon = project.daemonPid()!
    process.kill(daemon, 'SIGKILL')
    await waitFor(() => !isAlive(daemon), 'the daemon to be gone')
    await watchFor(2000)

    // The service went on through the daemon's death.
    const status = await project.qm('status', '--json', 'flood')
    const flood = JSON.parse(status.stdout).services[0]
    expect(flood.state).toBe('running')
    expect(rotations).toBeGreaterThan(20)
    expect(largestFile).toBeLessThanOrEqual(MAX)
    expect(peakFolder).toBeLessThanOrEqual(3 * MAX)

    // Files rotate every 50 ms at this rate: they are read once the service has stopped and
    // its log process has written the rest and ended.
    process.kill(-flood.pid, 'SIGTERM')
    await waitFor(() => !isAlive(flood.pid) && logWriters(project.dir).length === 0, 'the service and its log process to end')
    // Listed only now: while the flood runs, a rotation renames .1 to .2 and the live file to
    // .1, and a listing between the two renames sees no .1.
    expect([...sizes(logs).keys()].filter((name) => name.startsWith('flood')).sort()).toEqual(['flood.log', 'flood.log.1', 'flood.log.2'])
    // The lines run on without a gap from the oldest kept file to the live one.
    const text = ['flood.log.2', 'flood.log.1', 'flood.log'].map((name) => readFileSync(join(logs, name), 'utf8')).join('')
    // The service stopped mid-write: a last line without its newline is not a whole line.
    const whole = text.slice(0, text.lastIndexOf('\n') + 1)
    const numbers = whole.split('\n').filter((line) => line !== '').map((line) => Number(line.replace(/^\S+Z /, '').slice(0, 12)))
    const gaps = numbers.slice(1).filter((n, i) => n !== numbers[i]! + 1)
    expect(gaps).toEqual([])
  })
})
