#!/usr/bin/env node
// qm top's first full frame against qm status, with N guide services running, in turns:
// tmux runs `qm top` in a window and its screen is read until every service's row shows
// running; `qm status` runs to its end beside it. Needs tmux.
//   node bench/top.js [--services 40] [--runs 7] [--first-port 65400]
import {spawnSync} from 'node:child_process'
import {parseArgs} from 'node:util'
import {GuideJob} from './lib/guide-services.js'
import {REPO} from './lib/project.js'
import {qmAutoPorts} from './lib/restart-load.js'
import {summarize} from './lib/stats.js'
import {run} from './lib/supervisors.js'

const options = parseArgs({options: {services: {type: 'string', default: '40'}, runs: {type: 'string', default: '7'}, 'first-port': {type: 'string', default: '65400'}}}).values
const N = Number(options.services)
const RUNS = Number(options.runs)
if (spawnSync('tmux', ['-V']).status !== 0) {
  process.stderr.write("tmux is missing (Debian's package tmux)\n")
  process.exit(1)
}
const job = new GuideJob({services: N, firstPort: Number(options['first-port'])})
const qm = `${REPO}/bin/run.js`
try {
  await job.create()
  const auto = qmAutoPorts(job)
  auto.setup()
  const started = await auto.start()
  if (started.code !== 0) throw new Error(`qm start exited ${started.code}: ${started.stderr.slice(-500)}`)
  const frames = []
  const statuses = []
  for (let i = 0; i < RUNS; i++) {
    const socket = `qm-bench-top-${process.pid}-${i}`
    const tmux = (...args) => spawnSync('tmux', ['-L', socket, ...args], {cwd: auto.dir, encoding: 'utf8', env: job.env})
    const t0 = performance.now()
    tmux('new-session', '-d', '-x', '200', '-y', String(N + 10), '-c', auto.dir, `${process.execPath} ${qm} top`)
    for (;;) {
      const screen = tmux('capture-pane', '-p').stdout
      if ((screen.match(/^[› ] \S+ +running /gm) ?? []).length === N) break
      if (performance.now() - t0 > 30_000) throw new Error(`no full frame in 30 s:\n${screen}`)
    }
    frames.push(performance.now() - t0)
    tmux('kill-server')
    statuses.push((await run([process.execPath, qm, 'status'], {env: job.env, cwd: auto.dir})).ms)
  }
  const line = (what, values) => `${what}: median ${summarize(values).median.toFixed(0)} ms (${values.map((v) => v.toFixed(0)).join(' ')})`
  process.stdout.write(`${line(`qm top, first full frame of ${N} services`, frames)}\n${line(`qm status, ${N} services`, statuses)}\n`)
  await auto.down()
} finally {
  job.cleanup()
}
