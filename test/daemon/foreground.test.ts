// `qm up`'s supervisor in this process: a stop asked for while its daemon is still opening
// (a Ctrl-C in the first moments) skips the start rather than starting every service only
// to stop it at once. Real manifest, real daemon files; the signal is the promise the CLI
// resolves on SIGINT, already resolved when the daemon opens.
import {describe, expect, it} from 'vitest'
import {runInForeground, type ForegroundOutput} from '../../src/daemon/foreground.js'
import {loadManifest} from '../../src/manifest/load.js'
import type {Transition} from '../../src/supervisor/states.js'
import {makeProject, service} from '../helpers/project.js'

describe('runInForeground', () => {
  it('starts nothing when the stop came while the daemon was opening', async () => {
    const project = await makeProject()
    project.writeManifest(service('alpha', 'guide-call-server.mjs') + service('beta', 'guide-call-server.mjs'))
    const manifest = await loadManifest({flag: undefined, env: {}, cwd: project.dir})
    const transitions: Transition[] = []
    const notes: string[] = []
    let startResults = 0
    const output: ForegroundOutput = {
      logLine: () => undefined,
      transition: (transition) => transitions.push(transition),
      startResults: () => startResults++,
      note: (text) => notes.push(text),
    }
    await runInForeground(manifest, [], output, () => Promise.resolve())
    expect(transitions).toEqual([])
    expect(startResults).toBe(0)
    expect(notes).toEqual(['stopping every service'])
    expect(await project.endpoints()).toEqual([])
    expect(project.daemonPid()).toBeUndefined()
  })
})
