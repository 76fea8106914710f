import {inspect} from 'node:util'
import {describe, expect, it} from 'vitest'
import {DatabaseUrl, redactUrl, urlProblem} from '../../src/manifest/database-url.js'
import {describeTarget, resolveTarget} from '../../src/registry/postgres-url.js'

describe('the registry URL', () => {
  it('never shows its password: JSON, strings, inspect', () => {
    const url = new DatabaseUrl('postgres://qm:s3cr%40t-pass@db.example:5432/platform?sslmode=verify-full')
    const shown = [JSON.stringify({url}), `${url}`, String(url), inspect(url), inspect({url}, {depth: 5, showHidden: true})]
    for (const text of shown) {
      expect(text).not.toContain('s3cr')
      expect(text).toContain('postgres://qm:***@db.example:5432/platform?sslmode=verify-full')
    }
    expect(url.reveal()).toBe('postgres://qm:s3cr%40t-pass@db.example:5432/platform?sslmode=verify-full')
  })

  it('masks passwords in text, including an unencoded @ and a password= parameter', () => {
    expect(redactUrl('see postgres://qm:p@ss@db/x and postgresql://u:v@h:1/d')).toBe('see postgres://qm:***@db/x and postgresql://u:***@h:1/d')
    expect(redactUrl('postgres://qm@db/x?password=hunter22&sslmode=require')).toBe('postgres://qm@db/x?password=***&sslmode=require')
    expect(redactUrl('postgres://db.example:5432/x')).toBe('postgres://db.example:5432/x')
  })

  it('says what is wrong without repeating the URL', () => {
    expect(urlProblem('mysql://qm:hunter22@db/x')).toBe('must be a postgres:// or postgresql:// URL')
    expect(urlProblem('postgres://qm:hunter22@db/x?sslmode=sometimes')).toBe('has sslmode "sometimes"; expected one of disable, allow, prefer, require, verify-ca, verify-full')
    expect(urlProblem('postgres://qm@db/x?pool=3')).toMatch(/^has an unknown parameter "pool"; known: host, port/)
    expect(urlProblem('postgres://qm:hunter22@db:port/x')).toMatch(/^is not a valid URL/)
    expect(urlProblem('postgresql://qm@db/x?connect_timeout=2')).toBeUndefined()
  })

  it('fills what the URL leaves out from the PG* variables, as libpq does', () => {
    const env = {PGHOST: 'db.env', PGPORT: '6432', PGUSER: 'env_user', PGDATABASE: 'env_db', PGPASSWORD: 'env-pass', PGSSLMODE: 'require', PGCONNECT_TIMEOUT: '3'}
    expect(resolveTarget(new DatabaseUrl('postgres://'), env)).toMatchObject({host: 'db.env', port: 6432, user: 'env_user', database: 'env_db', password: 'env-pass', sslmode: 'require', connectTimeoutMs: 3000})
    const url = new DatabaseUrl('postgres://qm:url-pass@db.example:5433/platform?sslmode=disable')
    expect(resolveTarget(url, env)).toMatchObject({host: 'db.example', port: 5433, user: 'qm', database: 'platform', password: 'url-pass', sslmode: 'disable', connectTimeoutMs: 3000})
    expect(resolveTarget(new DatabaseUrl('postgres://qm@db/x'), {})).toMatchObject({sslmode: 'prefer', connectTimeoutMs: 5000, applicationName: 'qm'})
    expect(resolveTarget(new DatabaseUrl('postgres://qm@db/x'), {}).password).toBeUndefined()
    expect(resolveTarget(new DatabaseUrl('postgres:///x?host=%2Ftmp%2Fpg'), {}).host).toBe('/tmp/pg')
    expect(resolveTarget(new DatabaseUrl('postgres://qm@%2Ftmp%2Fpg/x'), {}).host).toBe('/tmp/pg')
    expect(resolveTarget(new DatabaseUrl('postgres://qm@/x?host=/tmp/pg'), {})).toMatchObject({host: '/tmp/pg', user: 'qm', database: 'x'})
    expect(resolveTarget(new DatabaseUrl('postgres://qm@/x'), {PGHOST: 'db.env'}).host).toBe('db.env')
    expect(() => resolveTarget(new DatabaseUrl('postgres://qm@db/x'), {PGSSLMODE: 'maybe'})).toThrow('PGSSLMODE is "maybe"')
  })

  it('names the database, host and port in messages, never the password', () => {
    expect(describeTarget({host: 'db.example', port: 5432, database: 'platform', user: 'qm'})).toBe('database "platform" on db.example:5432 as user qm')
    expect(describeTarget({host: '/tmp/pg', port: 5432, database: 'platform', user: 'qm'})).toBe('database "platform" on /tmp/pg/.s.PGSQL.5432 as user qm')
    expect(describeTarget({host: '::1', port: 5432, database: 'platform', user: 'qm'})).toBe('database "platform" on [::1]:5432 as user qm')
  })
})
