// qm top on a real terminal (tmux): the first frame, a kill -9 seen live, the log pane and
// its search, an action with its confirmation, a resize to 80×24, and q leaving everything
// running.
import {describe, expect, it} from 'vitest'
import {makeProject, service, type Project} from '../helpers/project.js'
import {QM_BIN} from '../helpers/run-qm.js'
import {tmuxScreen} from '../helpers/tmux.js'

const talker = (name: string) => service(name, 'talker-server.mjs', `    env: {TALKER_NAME: ${name}, TICK_MS: "200"}\n`)
const pidOf = async (project: Project, name: string) => JSON.parse((await project.qm('status', name, '--json')).stdout).services[0].pid as number
const rowOf = (lines: string[], name: string) => lines.find((line) => new RegExp(`^[› ] ${name} `).test(line))

describe('qm top', () => {
  it('refuses to run off a terminal, pointing to qm status --watch and qm events', async () => {
    const project = await makeProject()
    project.writeManifest(talker('alpha'))
    const result = await project.qm('top')
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toBe('error qm top needs a terminal\nhint  off a terminal, qm status --watch redraws the table and qm events streams what happens, one line each')
  })

  it('shows every service live, follows a log and finds a line in it, restarts after a yes, fits 80×24, and leaves with q', {timeout: 90_000}, async () => {
    const project = await makeProject()
    project.writeManifest(talker('alpha') + talker('beta') + talker('gamma'))
    expect((await project.qm('start')).exitCode).toBe(0)
    const screen = tmuxScreen([process.execPath, QM_BIN, 'top'], {cwd: project.dir, columns: 160, rows: 45})
    const first = await screen.waitFor((lines) => ['alpha', 'beta', 'gamma'].every((name) => rowOf(lines, name)?.includes('running')), 'the first frame')
    expect(first[0]).toMatch(/^qm top {2}daemon \d+ {2}registry sqlite /)
    expect(first.find((line) => line.includes('NAME'))).toMatch(/NAME +STATE +PID +PORT +HEALTH +P50 +P99 +VERSION +UPTIME +RST +CPU +MEM +CERT/)

    // kill -9: the new pid shows in the row, as the daemon tells it.
    const before = await pidOf(project, 'beta')
    const killedAt = performance.now()
    process.kill(before, 'SIGKILL')
    await screen.waitFor((lines) => {
      const row = rowOf(lines, 'beta')
      return row !== undefined && row.includes('running') && !row.includes(String(before)) && /\d{3,}/.test(row)
    }, 'beta running again under a new pid')
    console.log(`qm top showed beta running again ${Math.round(performance.now() - killedAt)} ms after the kill -9`)

    // The log pane of the selected service (beta, the second row), and a search in it.
    screen.keys('j')
    await screen.waitFor((lines) => rowOf(lines, 'beta')?.startsWith('›') === true, 'beta selected')
    screen.keys('Enter')
    await screen.waitFor((lines) => lines[0] === 'log of beta' && lines.some((line) => /beta tick \d+/.test(line)), 'the log pane with beta’s lines')
    screen.type('/')
    screen.type('tick 1')
    screen.keys('Enter')
    const found = await screen.waitFor((lines) => lines.some((line) => /^\/tick 1: hit \d+ of \d+/.test(line)), 'the search hits')
    expect(found.some((line) => line.includes('beta tick 1'))).toBe(true)
    screen.keys('Escape')
    await screen.waitFor((lines) => rowOf(lines, 'beta') !== undefined, 'the table again')

    // r asks first, since beta serves; y restarts it.
    const pidBefore = await pidOf(project, 'beta')
    screen.type('r')
    await screen.waitFor((lines) => lines.some((line) => line.includes('restart beta? it serves now (y/n)')), 'the question')
    screen.type('y')
    await screen.waitFor((lines) => lines.some((line) => line.includes('beta restarted')), 'the restart done', 20_000)
    expect(await pidOf(project, 'beta')).not.toBe(pidBefore)

    // 80×24: every line within 80 columns, every service's row still there with its state.
    screen.resize(80, 24)
    const small = await screen.waitFor((lines) => lines.length <= 24 && lines.every((line) => line.length <= 80) && ['alpha', 'beta', 'gamma'].every((name) => /running/.test(rowOf(lines, name) ?? '')), 'the frame at 80×24')
    console.log(`qm top at 80×24:\n${small.join('\n')}`)

    // Colour, and with NO_COLOR none: the selected row is still marked with ›.
    expect(screen.styled()).toMatch(/\u001B\[3\dm/)
    const plain = tmuxScreen([process.execPath, QM_BIN, 'top'], {cwd: project.dir, columns: 100, rows: 30, env: {NO_COLOR: '1'}})
    const plainLines = await plain.waitFor((lines) => rowOf(lines, 'alpha')?.startsWith('›') === true, 'the NO_COLOR frame')
    expect(plain.styled()).not.toMatch(/\u001B\[(3\d|4\d|7)m/)
    expect(plainLines.join('\n')).toContain('running')
    plain.type('q')

    screen.type('q')
    await screen.waitFor(() => !screen.running(), 'qm top to end')
    const status = JSON.parse((await project.qm('status', '--json')).stdout).services as {name: string; state: string}[]
    expect(status.map((row) => row.state)).toEqual(['running', 'running', 'running'])
  })
})
