// qm, PM2 and supervisord, each set up for the same guide job and driven by their own
// commands as an operator types them. Each supervisor keeps its state in a folder of the
// job's (PM2_HOME, supervisord's socket and pid file, qm's .qm), so nothing of the user's
// is touched and everything ends with the job.
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {REPO} from './project.js'
import {isAlive, sleep, waitFor} from './processes.js'

const QM_BIN = join(REPO, 'bin/run.js')
const PM2_BIN = join(REPO, 'node_modules/.bin/pm2')

/** Runs a command to its end: its wall time in ms, exit code and output. */
export function run(argv, {env, cwd}) {
  return new Promise((resolve) => {
    const started = performance.now()
    const child = spawn(argv[0], argv.slice(1), {env, cwd, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('close', (code) => resolve({ms: performance.now() - started, code, stdout, stderr}))
  })
}

function pidFromFile(file) {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim())
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined
  } catch {
    return undefined
  }
}

async function expectOk(result, what) {
  if (result.code !== 0) throw new Error(`${what} exited ${result.code}: ${result.stderr.slice(-500) || result.stdout.slice(-500)}`)
  return result
}

export function qm(job) {
  const dir = join(job.dir, 'qm')
  const env = job.env
  const cli = (...args) => [process.execPath, QM_BIN, ...args]
  return {
    name: 'qm',
    missing: () => (existsSync(join(REPO, 'dist/cli/fast-path.js')) ? undefined : 'not built (npm run build)'),
    setup() {
      mkdirSync(dir, {recursive: true})
      const services = job.names
        .map((name, i) => `  ${name}:\n    command: ${JSON.stringify(job.argv(i).slice(0, 2))}\n    port: ${job.ports[i]}\n`)
        .join('')
      writeFileSync(
        join(dir, 'services.yaml'),
        `version: 1\nport_range: [${job.ports[0]}, ${job.ports.at(-1)}]\ndefaults:\n  certs: ${job.certs.dir}\n  env: {PYTHONPATH: ${job.stubs}, PYTHONDONTWRITEBYTECODE: "1"}\nservices:\n${services}`,
      )
    },
    start: async () => expectOk(await run(cli('start'), {env, cwd: dir}), 'qm start'),
    stop: async () => expectOk(await run(cli('stop'), {env, cwd: dir}), 'qm stop'),
    status: (json) => run(cli('status', ...(json ? ['--json'] : [])), {env, cwd: dir}),
    daemonPid: () => pidFromFile(join(dir, '.qm', 'daemon.pid')),
    /** qm up, its output thrown away; it stops every service and exits on SIGTERM. */
    foreground: () => spawn(process.execPath, [QM_BIN, 'up'], {env, cwd: dir, stdio: 'ignore'}),
    async servicePid(i) {
      const {stdout} = await run(cli('status', job.names[i], '--json'), {env, cwd: dir})
      return JSON.parse(stdout).services[0].pid
    },
    async down() {
      await run(cli('shutdown'), {env, cwd: dir})
    },
  }
}

export function pm2(job) {
  const home = join(job.dir, 'pm2')
  const env = {...job.env, PM2_HOME: home}
  const ecosystem = join(home, 'ecosystem.config.cjs')
  const cli = (...args) => [process.execPath, PM2_BIN, ...args]
  return {
    name: 'PM2',
    missing: () => (existsSync(PM2_BIN) ? undefined : 'not installed (npm ci installs it as a dev dependency)'),
    setup() {
      mkdirSync(home, {recursive: true})
      // PM2's defaults otherwise: autorestart, no restart delay, kill_timeout 1.6 s.
      const apps = job.names.map((name, i) => ({name, script: job.argv(i)[0], args: job.argv(i).slice(1), interpreter: 'none', cwd: job.dir, env: {PYTHONPATH: job.stubs, PYTHONDONTWRITEBYTECODE: '1'}}))
      writeFileSync(ecosystem, `module.exports = ${JSON.stringify({apps}, null, 2)}\n`)
    },
    start: async () => expectOk(await run(cli('start', ecosystem), {env, cwd: home}), 'pm2 start'),
    stop: async () => expectOk(await run(cli('stop', 'all'), {env, cwd: home}), 'pm2 stop all'),
    restartAll: () => run(cli('restart', 'all'), {env, cwd: home}),
    status: (json) => run(cli(json ? 'jlist' : 'ls'), {env, cwd: home}),
    daemonPid: () => pidFromFile(join(home, 'pm2.pid')),
    async servicePid(i) {
      const {stdout} = await run(cli('jlist'), {env, cwd: home})
      return JSON.parse(stdout).find((app) => app.name === job.names[i]).pid
    },
    async down() {
      await run(cli('kill'), {env, cwd: home})
    },
  }
}

export function supervisord(job) {
  const dir = join(job.dir, 'supervisord')
  const conf = join(dir, 'supervisord.conf')
  const pidFile = join(dir, 'supervisord.pid')
  const env = job.env
  const ctl = (...args) => ['supervisorctl', '-c', conf, ...args]
  return {
    name: 'supervisord',
    missing: () => (spawnSync('supervisord', ['--version']).status === 0 ? undefined : "not installed (Debian's package supervisor)"),
    setup() {
      mkdirSync(dir, {recursive: true})
      // supervisord's defaults otherwise: startsecs 1, startretries 3, stopwaitsecs 10, SIGTERM.
      const programs = job.names
        .map((name, i) => `[program:${name}]\ncommand=${job.argv(i).join(' ')}\ndirectory=${job.dir}\nenvironment=PYTHONPATH="${job.stubs}",PYTHONDONTWRITEBYTECODE="1"\nautostart=true\nautorestart=true\nredirect_stderr=true\nstdout_logfile=${join(dir, `${name}.log`)}\n`)
        .join('\n')
      writeFileSync(
        conf,
        `[unix_http_server]\nfile=${join(dir, 'supervisor.sock')}\n\n[supervisord]\nlogfile=${join(dir, 'supervisord.log')}\npidfile=${pidFile}\nchildlogdir=${dir}\n\n[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n[supervisorctl]\nserverurl=unix://${join(dir, 'supervisor.sock')}\n\n${programs}`,
      )
    },
    // Started without a daemon, supervisord itself is the start command (autostart=true);
    // with one running, supervisorctl starts the programs.
    async start() {
      if (pidFromFile(pidFile) === undefined) return expectOk(await run(['supervisord', '-c', conf], {env, cwd: dir}), 'supervisord')
      return expectOk(await run(ctl('start', 'all'), {env, cwd: dir}), 'supervisorctl start all')
    },
    stop: async () => expectOk(await run(ctl('stop', 'all'), {env, cwd: dir}), 'supervisorctl stop all'),
    restartAll: () => run(ctl('restart', 'all'), {env, cwd: dir}),
    // supervisorctl status exits 3 when a program is not running; only its time is used.
    status: () => run(ctl('status'), {env, cwd: dir}),
    daemonPid: () => pidFromFile(pidFile),
    async servicePid(i) {
      const {stdout} = await run(ctl('pid', job.names[i]), {env, cwd: dir})
      return Number(stdout.trim())
    },
    async down() {
      const pid = pidFromFile(pidFile)
      if (pid === undefined) return
      await run(ctl('shutdown'), {env, cwd: dir})
      await waitFor(() => !isAlive(pid), {timeoutMs: 30_000, pauseMs: 20, what: 'supervisord to exit'})
      await sleep(50)
    },
  }
}
