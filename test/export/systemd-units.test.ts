// The pure parts of the systemd export: quoting read back by systemd's rules (and accepted
// by systemd-analyze without a warning), the restart mapping per systemd version, and the
// units and quantities the settings are written in.
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseSystemdVersion} from '../../src/export/systemd-host.js'
import {execLine, quoteEnvironmentItem, quoteExecWord} from '../../src/export/systemd-syntax.js'
import {buildSystemdUnits, restartSteps, type SystemdPlan} from '../../src/export/systemd-units.js'
import {cpuCores, durationText, memoryBytes} from '../../src/export/units.js'
import {parseManifestText} from '../../src/manifest/load.js'
import {tempDir} from '../helpers/temp-dir.js'
import {lacks} from '../helpers/requirements.js'
import {verifyUnits} from './support.js'
import {parseCommandLine, parseEnvironment, parseUnitFile, values} from './unit-file.js'

const AWKWARD = [
  '',
  'plain',
  'two words',
  ';',
  'a;b',
  '$HOME',
  '${HOME}',
  '$$',
  '100%',
  '%h',
  '"double"',
  "'single'",
  'back\\slash',
  'trailing\\',
  'tab\there',
  'new\nline',
  'bell\x07 and \x1b escape',
  'ünïcödé ✓',
  '-starts-with-dash',
  '@at',
  '#hash',
]

describe('systemd quoting', () => {
  it.skipIf(lacks('systemd'))('reads every awkward argument back exactly, and systemd-analyze accepts the line without a warning', async () => {
    const line = execLine([process.execPath, ...AWKWARD])
    expect(parseCommandLine(line)).toEqual({prefix: '', argv: [process.execPath, ...AWKWARD]})
    const environment = AWKWARD.filter((text) => !/[\x00-\x08\x0a-\x1f]/.test(text)).map((text, i) => quoteEnvironmentItem(`V${i}`, text))
    const dir = tempDir('qm-quoting-')
    writeFileSync(join(dir, 'awkward.service'), ['[Service]', 'Type=oneshot', ...environment.map((item) => `Environment=${item}`), `ExecStart=${line}`, ''].join('\n'))
    expect(await verifyUnits(dir)).toMatchObject({exitCode: 0, output: ''})
    expect(Object.values(parseEnvironment(environment))).toEqual(AWKWARD.filter((text) => !/[\x00-\x08\x0a-\x1f]/.test(text)))
  })

  it('leaves plain words bare and escapes specifiers and $ in them', () => {
    expect(quoteExecWord('--port')).toBe('--port')
    expect(quoteExecWord('/srv/a=b,c:d@e+f')).toBe('/srv/a=b,c:d@e+f')
    expect(quoteExecWord('50%')).toBe('50%%')
    expect(quoteExecWord('$X')).toBe('"$$X"')
    expect(quoteEnvironmentItem('A', '$X 50%')).toBe('"A=$X 50%%"')
  })

  it('refuses an executable systemd cannot run: relative, or with quotes, a backslash or $ in its path', () => {
    expect(() => execLine(['node'])).toThrow('systemd needs an absolute executable, got "node"')
    for (const path of ['/opt/"x"/node', "/opt/it's/node", '/opt/a\\b/node', '/opt/$x/node']) {
      expect(() => execLine([path])).toThrow(`systemd cannot run an executable whose path holds quotes, a backslash, "$" or a control character: ${path}`)
    }
  })
})

/** A plan for one service, echo, of /srv/shop/services.yaml, as qm export systemd makes it. */
async function echoPlan({systemdVersion, backoff = '{initial: 500ms, max: 30s, factor: 2, reset_after: 60s, max_failures: 10}', user = false}: {systemdVersion: number | undefined; backoff?: string; user?: boolean}): Promise<SystemdPlan> {
  const manifest = await parseManifestText('/srv/shop/services.yaml', `version: 1\ndefaults:\n  backoff: ${backoff}\nservices:\n  echo:\n    command: [node, echo.js]\n`, {env: {}, cwd: '/srv/shop'})
  return {
    manifest,
    services: manifest.services,
    ports: new Map([['echo', 50051]]),
    executables: new Map([['echo', '/usr/bin/node']]),
    qm: ['/usr/bin/node', '/opt/qm/bin/run.js'],
    project: 'shop',
    user,
    ...(systemdVersion === undefined ? {} : {systemdVersion}),
    systemctl: '/usr/bin/systemctl',
  }
}

describe('restart mapping', () => {
  const plan = (systemdVersion: number | undefined, backoff?: string) => echoPlan({systemdVersion, ...(backoff ? {backoff} : {})})
  const serviceSection = (units: ReturnType<typeof buildSystemdUnits>) => units.find((unit) => unit.name === 'qm-echo.service')!.text

  it('grows the delay with RestartSteps= and RestartMaxDelaySec= on systemd 254 and later', async () => {
    const text = serviceSection(buildSystemdUnits(await plan(254)))
    const unit = parseUnitFile(text)
    expect(values(unit, 'Service', 'RestartSec')).toEqual(['500ms'])
    expect(values(unit, 'Service', 'RestartSteps')).toEqual(['6'])
    expect(values(unit, 'Service', 'RestartMaxDelaySec')).toEqual(['30s'])
    expect(text).not.toContain('# backoff grows')
    // 10 runs of at most 60s, after them 0.5+1+2+4+8+16+30+30+30+30 = 151.5s of delays.
    expect(values(unit, 'Unit', 'StartLimitIntervalSec')).toEqual(['752s'])
  })

  it('leaves them out with a comment on older or unknown systemd, and when the delay never grows', async () => {
    const old = serviceSection(buildSystemdUnits(await plan(252)))
    expect(values(parseUnitFile(old), 'Service', 'RestartSteps')).toEqual([])
    expect(old).toContain('# backoff grows from 500ms to 30s in qm; RestartSteps=6 and RestartMaxDelaySec=30s would do that but need systemd 254 (this host has 252), so every restart waits RestartSec.\n')
    expect(values(parseUnitFile(old), 'Unit', 'StartLimitIntervalSec')).toEqual(['605s'])
    expect(serviceSection(buildSystemdUnits(await plan(undefined)))).toContain("(this host's version is unknown)")
    const flat = serviceSection(buildSystemdUnits(await plan(252, '{initial: 2s, max: 2s, factor: 2}')))
    expect(flat).not.toContain('RestartSteps')
    expect(values(parseUnitFile(flat), 'Service', 'RestartSec')).toEqual(['2s'])
  })

  it('counts the steps from initial to max by factor', () => {
    const steps = (initialMs: number, maxMs: number, factor: number) => restartSteps({backoff: {initialMs, maxMs, factor, resetAfterMs: 0, maxFailures: 1}})
    expect(steps(500, 30_000, 2)).toBe(6)
    expect(steps(1000, 8000, 2)).toBe(3)
    expect(steps(100, 1000, 10)).toBe(1)
    expect(steps(1000, 1000, 2)).toBeUndefined()
    expect(steps(1000, 8000, 1)).toBeUndefined()
  })
})

describe('liveness wiring', () => {
  // Each of these was seen wrong under a live systemd 252 (test/live/systemd.test.ts shows them right).
  async function units(user = false) {
    const built = buildSystemdUnits(await echoPlan({systemdVersion: 252, user}))
    return (name: string) => parseUnitFile(built.find((unit) => unit.name === name)!.text)
  }

  it('starts the timer from the service once it is ready, and never through Wants=, so one failure uses the start limit once', async () => {
    const unit = await units()
    const service = unit('qm-echo.service')
    expect(values(service, 'Unit', 'Wants')).toEqual([])
    const posts = values(service, 'Service', 'ExecStartPost').map((line) => parseCommandLine(line).argv)
    expect(posts.slice(0, -1).map((argv) => argv.slice(0, 3))).toEqual([['/usr/bin/node', '/opt/qm/bin/run.js', 'health'], ['/usr/bin/node', '/opt/qm/bin/run.js', 'register']])
    expect(posts.at(-1)).toEqual(['/usr/bin/systemctl', 'start', '--no-block', 'qm-echo-health.timer'])
    expect(values(unit('qm-echo-health.timer'), 'Unit', 'BindsTo')).toEqual(['qm-echo.service'])
    expect(parseCommandLine(values((await units(true))('qm-echo.service'), 'Service', 'ExecStartPost').at(-1)!).argv).toEqual(['/usr/bin/systemctl', '--user', 'start', '--no-block', 'qm-echo-health.timer'])
  })

  it('lets the probe run every interval, and counts its being stopped by a stop of the service as no verdict', async () => {
    const probe = (await units())('qm-echo-health.service')
    expect(values(probe, 'Unit', 'StartLimitIntervalSec')).toEqual(['0'])
    expect(values(probe, 'Unit', 'Requisite')).toEqual(['qm-echo.service'])
    expect(values(probe, 'Service', 'SuccessExitStatus')).toEqual(['1 2 SIGTERM'])
  })

  it('restarts only a running service, and never in place of a queued stop', async () => {
    const restart = (await units())('qm-shop-restart@.service')
    expect(parseCommandLine(values(restart, 'Service', 'ExecStart')[0]!, ['i']).argv).toEqual(['/usr/bin/systemctl', '--job-mode=fail', 'try-restart', 'qm-%i.service'])
  })
})

describe('units of the exported settings', () => {
  it('reads the systemd version from --version', () => {
    expect(parseSystemdVersion('systemd 252 (252.38-1~deb12u1)\n+PAM +AUDIT')).toBe(252)
    expect(parseSystemdVersion('systemd 256 (256.7-arch1-1)')).toBe(256)
    expect(parseSystemdVersion('not systemd')).toBeUndefined()
  })

  it('writes durations both qm and systemd read, and converts Kubernetes quantities', () => {
    expect([durationText(500), durationText(10_000), durationText(1500), durationText(90_000)]).toEqual(['500ms', '10s', '1500ms', '90s'])
    expect([cpuCores('500m'), cpuCores('2'), cpuCores('0.25')]).toEqual([0.5, 2, 0.25])
    expect([memoryBytes('256Mi'), memoryBytes('1G'), memoryBytes('1.5Ki'), memoryBytes('1000')]).toEqual([268_435_456, 1e9, 1536, 1000])
  })
})
