// The project the live systemd runs: a folder with certificates made for this run, Python
// stubs generated from proto/, a manifest of guide-style Python services and its SQLite
// registry. The container mounts it at the same path, so the absolute paths the exported
// units hold work on both sides. remove() is for afterAll: nothing here is per test.
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createConnection} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {createCertificateSet, writeCertificateSet} from '../../src/certs/issue.js'
import {SqliteEndpointStore} from '../../src/registry/sqlite-store.js'
import type {Endpoint} from '../../src/registry/store.js'
import {generatePythonStubs} from '../health/support.js'
import {runQm, type QmResult} from '../helpers/run-qm.js'
import {PYTHON} from '../requirements.js'

export interface LiveProject {
  dir: string
  manifest: string
  qm: (...args: string[]) => Promise<QmResult>
  rows: () => Promise<Endpoint[]>
  remove: () => void
}

export async function makeLiveProject(manifestText: (stubs: string) => string): Promise<LiveProject> {
  const dir = mkdtempSync(join(tmpdir(), 'qm-live-'))
  await writeCertificateSet(join(dir, 'certs'), await createCertificateSet())
  const stubs = join(dir, 'stubs')
  mkdirSync(stubs)
  const generated = generatePythonStubs(stubs)
  if (!generated.ok) throw new Error(generated.reason)
  const manifest = join(dir, 'services.yaml')
  writeFileSync(manifest, manifestText(stubs))
  return {
    dir,
    manifest,
    qm: (...args) => runQm([...args, '-f', manifest], {cwd: dir}),
    rows: async () => {
      const store = SqliteEndpointStore.open(join(dir, '.qm', 'registry.sqlite3'), 'core_serviceendpoint')
      try {
        return await store.list()
      } finally {
        await store.close()
      }
    },
    remove: () => rmSync(dir, {recursive: true, force: true}),
  }
}

/** A guide-style Python service: the guide's server with stubs on PYTHONPATH, nothing else. */
export function pythonGuideCommand(fixtures: string): string {
  return `[${PYTHON}, ${join(fixtures, 'python', 'guide_server.py')}]`
}

/** Whether anything accepts a TCP connection on 127.0.0.1:port. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({host: '127.0.0.1', port})
    socket.setTimeout(2000)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('timeout', () => {
      // A SIGSTOPped listener still completes the handshake in the kernel; silence is not a closed port.
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
