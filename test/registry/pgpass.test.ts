import {chmodSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {findPassword, lookupPassword, passwordFilePath} from '../../src/registry/pgpass.js'
import {tempDir} from '../helpers/temp-dir.js'

const query = {host: 'db.example', port: 5432, database: 'platform', user: 'qm'}

describe('the password file (~/.pgpass)', () => {
  it('takes the first line whose four fields match, * matching anything', () => {
    const text = ['db.example:5432:other:qm:no', '*:*:platform:qm:first', 'db.example:5432:platform:qm:second'].join('\n')
    expect(findPassword(text, query)).toBe('first')
    expect(findPassword(text, {...query, database: 'other'})).toBe('no')
    expect(findPassword(text, {...query, user: 'someone'})).toBeUndefined()
  })

  it('undoes backslash escapes, so a field may hold : and \\', () => {
    const text = 'db.example:5432:platform:qm:pa\\:ss\\\\word:tail\n'
    expect(findPassword(text, query)).toBe('pa:ss\\word:tail')
    expect(findPassword('db\\.example:5432:platform:qm:x', query)).toBe('x')
    // An escaped * is a literal star, not a wildcard.
    expect(findPassword('\\*:5432:platform:qm:x', query)).toBeUndefined()
    expect(findPassword('\\*:5432:platform:qm:x', {...query, host: '*'})).toBe('x')
  })

  it('skips comments, short lines and Windows line ends', () => {
    const text = '# db.example:5432:platform:qm:commented\r\ndb.example:5432:platform\r\ndb.example:5432:platform:qm:real\r\n'
    expect(findPassword(text, query)).toBe('real')
  })

  it('looks up a socket in the default folder as localhost, and another folder by its path', () => {
    const text = 'localhost:5432:platform:qm:local\n/tmp/pg:5432:platform:qm:tmp\n'
    expect(findPassword(text, {...query, host: '/var/run/postgresql'})).toBe('local')
    expect(findPassword(text, {...query, host: '/tmp/pg'})).toBe('tmp')
    expect(findPassword(text, {...query, host: 'localhost'})).toBe('local')
  })

  it('reads PGPASSFILE, else ~/.pgpass, and ignores a file group or others may read', () => {
    const dir = tempDir()
    const file = join(dir, 'pass')
    expect(passwordFilePath({PGPASSFILE: file})).toBe(file)
    expect(passwordFilePath({})).toMatch(/\/\.pgpass$/)
    expect(lookupPassword(query, {PGPASSFILE: file})).toEqual({})
    writeFileSync(file, 'db.example:5432:platform:qm:secret\n', {mode: 0o600})
    expect(lookupPassword(query, {PGPASSFILE: file})).toEqual({password: 'secret'})
    chmodSync(file, 0o640)
    expect(lookupPassword(query, {PGPASSFILE: file})).toEqual({warning: `password file "${file}" has group or world access; permissions should be u=rw (0600) or less`})
    const folder = join(dir, 'folder')
    mkdirSync(folder)
    expect(lookupPassword(query, {PGPASSFILE: folder})).toEqual({warning: `password file "${folder}" is not a plain file`})
  })
})
