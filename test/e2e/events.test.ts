// qm events: the daemon's state changes and probe answers as they happen, replayed from
// the records with --since, ended by Ctrl-C or by the daemon's shutdown.
import {spawn} from 'node:child_process'
import {describe, expect, it, onTestFinished} from 'vitest'
import {killGroup, makeProject, service, waitFor, type Project} from '../helpers/project.js'
import {QM_BIN} from '../helpers/run-qm.js'

interface Received {
  at: number
  event: {type: string; name: string; from?: string; to?: string; pid?: number; atMs: number; cause?: string; status?: string}
}

/** qm events --json running in the background: every line with the moment it arrived. */
function watch(project: Project, ...args: string[]) {
  const child = spawn(process.execPath, [QM_BIN, 'events', '--json', ...args], {cwd: project.dir, env: {...process.env, NO_COLOR: '1'}, detached: true, stdio: ['ignore', 'pipe', 'pipe']})
  onTestFinished(() => killGroup(child.pid!))
  const received: Received[] = []
  let partial = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    const at = Date.now()
    const lines = (partial + chunk.toString()).split('\n')
    partial = lines.pop()!
    for (const line of lines) received.push({at, event: JSON.parse(line)})
  })
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return {child, received, exited, stderr: () => stderr}
}

const statusPid = async (project: Project, name: string) => JSON.parse((await project.qm('status', name, '--json')).stdout).services[0].pid as number

describe('qm events', () => {
  it('streams a kill -9 as its transitions in order, with the pid, and replays recorded ones with --since', async () => {
    const project = await makeProject()
    project.writeManifest(service('echo', 'guide-call-server.mjs') + service('other', 'guide-call-server.mjs'))
    expect((await project.qm('start')).exitCode).toBe(0)
    // --since replays the start, which also shows the stream is open before the kill.
    const events = watch(project, 'echo', '--since', '1m')
    await waitFor(() => events.received.some((r) => r.event.to === 'running'), 'the replayed start')
    const replayed = events.received.filter((r) => r.event.type === 'transition').map((r) => `${r.event.from}→${r.event.to}`)
    expect(replayed).toEqual(['stopped→starting', 'starting→running'])
    const pid = await statusPid(project, 'echo')
    const killedAt = events.received.length
    process.kill(pid, 'SIGKILL')
    await waitFor(() => events.received.slice(killedAt).filter((r) => r.event.type === 'transition').length >= 3, 'the restart')
    const after = events.received.slice(killedAt).filter((r) => r.event.type === 'transition')
    expect(after.slice(0, 3).map((r) => `${r.event.from}→${r.event.to}`)).toEqual(['running→exited', 'exited→starting', 'starting→running'])
    expect(after[0]!.event).toMatchObject({name: 'echo', pid, cause: 'killed by SIGKILL'})
    expect(after[2]!.event.pid).toBe(await statusPid(project, 'echo'))
    // Only what was asked for: nothing of "other".
    expect(events.received.every((r) => r.event.name === 'echo')).toBe(true)
    // How long each took from the daemon's move to this process, for the record (a figure, not a check).
    console.log(`qm events: kill -9 transitions arrived ${after.slice(0, 3).map((r) => r.at - r.event.atMs).join(', ')} ms after the daemon's moves`)
    // Probe answers come too, with the health interval (500 ms here).
    await waitFor(() => events.received.some((r) => r.event.type === 'probe' && r.event.status === 'SERVING'), 'a liveness probe answer')
    events.child.kill('SIGINT')
    expect(await events.exited).toBe(0)
  })

  it('ends when the daemon shuts down, after showing the services stop', async () => {
    const project = await makeProject()
    project.writeManifest(service('echo', 'guide-call-server.mjs'))
    expect((await project.qm('start')).exitCode).toBe(0)
    const events = watch(project, '--since', '1m')
    await waitFor(() => events.received.length >= 2, 'the replayed start')
    expect((await project.qm('shutdown')).exitCode).toBe(0)
    expect(await events.exited).toBe(0)
    expect(events.received.map((r) => r.event.to).slice(-2)).toEqual(['stopping', 'stopped'])
    expect(events.stderr()).toContain('the qm daemon has shut down')
  })

  it('refuses an unknown name, and says when no daemon runs', async () => {
    const project = await makeProject()
    project.writeManifest(service('echo', 'guide-call-server.mjs'))
    const none = await project.qm('events')
    expect(none.exitCode).toBe(1)
    expect(none.stderr).toContain('no qm daemon runs for this manifest: nothing to watch; qm start starts one')
    expect((await project.qm('start')).exitCode).toBe(0)
    const unknown = await project.qm('events', 'nobody')
    expect(unknown.exitCode).toBe(2)
    expect(unknown.stderr).toContain('unknown service "nobody"')
    const badSince = await project.qm('events', '--since', 'yesterday')
    expect(badSince.exitCode).toBe(2)
    expect(badSince.stderr).toContain('--since yesterday is not a duration or a time')
  })
})
