// qm's own state file: what a service's last probe learnt about its health service is kept
// across daemons, and a state file written by an earlier qm (without that column) still opens.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import Database from 'better-sqlite3'
import {afterEach, expect, test} from 'vitest'
import {ChildRecords, type ChildRecord} from '../../src/registry/child-records.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, {recursive: true, force: true})
})

function stateFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qm-records-'))
  dirs.push(dir)
  return join(dir, 'state.sqlite3')
}

const record: ChildRecord = {
  name: 'echo', service: 'echo', pid: 4242, startTime: 99, port: 50051, state: 'running', restarts: 1,
  lastExitCode: null, lastExitSignal: null, stateSinceMs: 1_700_000_000_000, startedAtMs: 1_700_000_000_000,
  fingerprint: 'f', registeredByQm: true, detail: null, noHealthService: true,
}

test('keeps whether the service had no health service, for the next daemon', () => {
  const file = stateFile()
  const records = ChildRecords.open(file)
  records.save(record)
  records.save({...record, name: 'other', noHealthService: false})
  records.close()
  const reopened = ChildRecords.open(file)
  expect(reopened.get('echo')).toEqual(record)
  expect(reopened.get('other')?.noHealthService).toBe(false)
  reopened.close()
})

test('opens a state file of an earlier qm, adds the column and keeps every row as it was', () => {
  const file = stateFile()
  // The children table as qm wrote it before the column existed.
  const old = new Database(file)
  old.exec(`CREATE TABLE children (
    name TEXT PRIMARY KEY, service TEXT NOT NULL, pid INTEGER, start_time INTEGER, port INTEGER,
    state TEXT NOT NULL, restarts INTEGER NOT NULL DEFAULT 0, last_exit_code INTEGER, last_exit_signal TEXT,
    state_since_ms INTEGER NOT NULL, started_at_ms INTEGER, fingerprint TEXT,
    registered_by_qm INTEGER NOT NULL DEFAULT 0, detail TEXT)`)
  old.prepare(`INSERT INTO children VALUES ('echo', 'echo', 4242, 99, 50051, 'running', 1, NULL, NULL, 1700000000000, 1700000000000, 'f', 1, NULL)`).run()
  old.close()

  // Read without writing first (qm status with no daemon): the row as before, no health service not assumed.
  const readOnly = ChildRecords.openReadOnly(file)!
  expect(readOnly.get('echo')).toEqual({...record, noHealthService: false})
  readOnly.close()

  const records = ChildRecords.open(file)
  expect(records.all()).toEqual([{...record, noHealthService: false}])
  records.save(record)
  expect(records.get('echo')).toEqual(record)
  records.close()
})
