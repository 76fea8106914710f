import {chmod, mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {hostname, tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {
  assertCertificatesUsable,
  type CertFinding,
  CertificateError,
  checkCertificates,
} from '../../src/certs/check.js'
import {runCertificateCheck} from '../../src/certs/check-target.js'
import {
  type CertificateSet,
  createCertificateSet,
  issueCertificate,
  writeCertificateSet,
} from '../../src/certs/issue.js'
import {certPaths} from '../../src/manifest/resolve.js'
import type {CertPaths} from '../../src/manifest/types.js'

let root: string
let dir: string
let paths: CertPaths
let set: CertificateSet

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'qm-certs-check-'))
  dir = join(root, 'certs')
  set = await createCertificateSet()
  await writeCertificateSet(dir, set)
  paths = certPaths(dir)
})

afterEach(async () => {
  await rm(root, {recursive: true, force: true})
})

const problems = (findings: CertFinding[]) => findings.filter((f) => f.level !== 'ok')

async function check(host = 'localhost', now?: Date): Promise<CertFinding[]> {
  return checkCertificates(paths, {host, caKey: join(dir, 'ca.key'), ...(now ? {now} : {})})
}

/** Puts another certificate and key in place of the server pair, written the way init writes keys. */
async function replaceServerPair(certPem: string, keyPem: string): Promise<void> {
  await writeFile(paths.serverCert, certPem)
  await rm(paths.serverKey)
  await writeFile(paths.serverKey, keyPem, {mode: 0o600})
}

describe('checkCertificates', () => {
  it('finds nothing wrong with a fresh set', async () => {
    const findings = await check()
    expect(problems(findings)).toEqual([])
    expect(findings.map((f) => [f.file.slice(dir.length + 1), f.message.replace(/\d{4}-\S+Z \(\d+ days left\)/, 'DATE')])).toEqual([
      ['ca.crt', 'CA certificate CN=qm development CA'],
      ['ca.crt', 'valid until DATE'],
      ['ca.key', 'readable by its owner only (mode 0600)'],
      ['ca.key', 'matches ca.crt'],
      ['server.crt', 'signed by ca.crt'],
      ['server.crt', 'allows TLS server authentication (serverAuth)'],
      ['server.crt', 'covers host localhost'],
      ['server.crt', 'valid until DATE'],
      ['server.key', 'readable by its owner only (mode 0600)'],
      ['server.key', 'matches server.crt'],
      ['client.crt', 'signed by ca.crt'],
      ['client.crt', 'allows TLS client authentication (clientAuth)'],
      ['client.crt', 'valid until DATE'],
      ['client.key', 'readable by its owner only (mode 0600)'],
      ['client.key', 'matches client.crt'],
    ])
  })

  it('reports a missing file', async () => {
    await rm(paths.clientCert)
    expect(problems(await check())).toEqual([{level: 'fail', file: paths.clientCert, message: 'is missing'}])
  })

  it('reports every file missing when the folder is a file', async () => {
    const file = join(root, 'plain-file')
    await writeFile(file, '')
    const findings = await checkCertificates(certPaths(file), {host: 'localhost', caKey: join(file, 'ca.key')})
    expect(findings.map((f) => [f.level, f.file.slice(file.length + 1), f.message])).toEqual(
      ['ca.crt', 'server.crt', 'server.key', 'client.crt', 'client.key'].map((f) => ['fail', f, 'is missing']),
    )
  })

  it('does not ask for ca.key, which a service host need not have', async () => {
    await rm(join(dir, 'ca.key'))
    expect(problems(await check())).toEqual([])
  })

  it('reports a key that does not match its certificate', async () => {
    const other = await createCertificateSet()
    await rm(paths.serverKey)
    await writeFile(paths.serverKey, other.server.keyPem, {mode: 0o600})
    expect(problems(await check())).toEqual([
      {level: 'fail', file: paths.serverKey, message: 'does not match server.crt'},
    ])
  })

  it('reports a server certificate from another CA, even one with the same name', async () => {
    const other = await createCertificateSet()
    await replaceServerPair(other.server.certPem, other.server.keyPem)
    expect(problems(await check())).toEqual([
      {level: 'fail', file: paths.serverCert, message: 'is not signed by the CA in ca.crt (issuer CN=qm development CA)'},
    ])
  })

  it('reports an expired certificate', async () => {
    const expired = await issueCertificate(set.ca, {
      commonName: 'localhost',
      usage: 'server',
      sans: ['localhost'],
      notBefore: new Date('2020-01-01T00:00:00Z'),
      notAfter: new Date('2020-02-01T00:00:00Z'),
    })
    await replaceServerPair(expired.certPem, expired.keyPem)
    expect(problems(await check())).toEqual([
      {level: 'fail', file: paths.serverCert, message: 'expired on 2020-02-01T00:00:00Z'},
    ])
  })

  it('reports a certificate that is not valid yet', async () => {
    const future = await issueCertificate(set.ca, {
      commonName: 'qm-client',
      usage: 'client',
      notBefore: new Date('2100-01-01T00:00:00Z'),
      notAfter: new Date('2100-02-01T00:00:00Z'),
    })
    await writeFile(paths.clientCert, future.certPem)
    await writeFile(paths.clientKey, future.keyPem)
    expect(problems(await check())).toEqual([
      {
        level: 'fail',
        file: paths.clientCert,
        message: "is not valid before 2100-01-01T00:00:00Z (is this host's clock right?)",
      },
    ])
  })

  it('warns when a certificate expires within 30 days', async () => {
    const notAfter = new Date('2030-06-30T12:00:00Z')
    const soon = await issueCertificate(set.ca, {commonName: 'qm-client', usage: 'client', notAfter})
    await writeFile(paths.clientCert, soon.certPem)
    await writeFile(paths.clientKey, soon.keyPem)
    const now = new Date('2030-06-20T11:00:00Z')
    // The CA made by the fixture expires long before 2030; judge only the client here.
    const findings = (await check('localhost', now)).filter((f) => f.file === paths.clientCert)
    expect(problems(findings)).toEqual([
      {level: 'warn', file: paths.clientCert, message: 'expires in 10 days, on 2030-06-30T12:00:00Z'},
    ])
  })

  it('reports a server certificate whose names do not cover the host', async () => {
    expect(problems(await check('db.example.internal'))).toEqual([
      {
        level: 'fail',
        file: paths.serverCert,
        message:
          'does not cover host db.example.internal (it names DNS:localhost, IP Address:127.0.0.1, ' +
          `IP Address:0:0:0:0:0:0:0:1, DNS:${hostname()}); run qm certs init --force --host db.example.internal`,
      },
    ])
  })

  it('accepts a host given as an IP address the certificate names', async () => {
    expect(problems(await check('::1'))).toEqual([])
    expect(problems(await check('127.0.0.1'))).toEqual([])
  })

  it('reports a key file others can read', async () => {
    await chmod(paths.serverKey, 0o644)
    expect(problems(await check())).toEqual([
      {
        level: 'fail',
        file: paths.serverKey,
        message: `is readable by group and others (mode 0644); run chmod 600 ${paths.serverKey}`,
      },
    ])
  })

  it('reports a key file its group can read', async () => {
    await chmod(paths.clientKey, 0o640)
    expect(problems(await check())).toEqual([
      {
        level: 'fail',
        file: paths.clientKey,
        message: `is readable by its group (mode 0640); run chmod 600 ${paths.clientKey}`,
      },
    ])
  })

  it('reports a client certificate that does not allow client authentication', async () => {
    // A server certificate used as the client's: the mistake of copying the wrong pair.
    await writeFile(paths.clientCert, set.server.certPem)
    await writeFile(paths.clientKey, set.server.keyPem)
    expect(problems(await check())).toEqual([
      {
        level: 'fail',
        file: paths.clientCert,
        message: 'does not allow TLS client authentication: extended key usage is serverAuth, not clientAuth',
      },
    ])
  })

  it('reports a server certificate that does not allow server authentication', async () => {
    await replaceServerPair(set.client.certPem, set.client.keyPem)
    expect(problems(await check()).map((f) => f.message)).toEqual([
      'does not allow TLS server authentication: extended key usage is clientAuth, not serverAuth',
      `does not cover host localhost (it names no subject alternative names, subject CN=qm-client); run qm certs init --force --host localhost`,
    ])
  })

  it('reports files that are not PEM, empty or encrypted', async () => {
    await writeFile(paths.ca, 'not a certificate\n')
    await writeFile(paths.clientCert, '')
    await writeFile(paths.serverKey, '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n')
    expect(problems(await check())).toEqual([
      {level: 'fail', file: paths.ca, message: 'is not a PEM certificate (no start line)'},
      {level: 'fail', file: paths.serverKey, message: 'is encrypted; services load their key without a passphrase'},
      {level: 'fail', file: paths.clientCert, message: 'is empty'},
    ])
  })
})

describe('assertCertificatesUsable', () => {
  it('throws a CertificateError naming the first error and its file', async () => {
    await rm(paths.serverKey)
    const attempt = assertCertificatesUsable(paths, 'localhost')
    await expect(attempt).rejects.toBeInstanceOf(CertificateError)
    await expect(attempt).rejects.toMatchObject({
      message: `${paths.serverKey} is missing`,
      exitCode: 1,
      code: 'CERTS',
    })
  })

  it('returns the warnings when nothing is an error', async () => {
    expect(await assertCertificatesUsable(paths, 'localhost')).toEqual([])
    const notAfter = new Date(Date.now() + 5 * 86_400_000 + 3_600_000)
    const soon = await issueCertificate(set.ca, {commonName: 'localhost', usage: 'server', sans: ['localhost'], notAfter})
    await replaceServerPair(soon.certPem, soon.keyPem)
    const warnings = await assertCertificatesUsable(paths, 'localhost')
    expect(warnings).toEqual([
      {
        level: 'warn',
        file: paths.serverCert,
        message: `expires in 5 days, on ${notAfter.toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
      },
    ])
  })
})

describe('runCertificateCheck', () => {
  it('without a manifest checks ./certs for localhost', async () => {
    const result = await runCertificateCheck({env: {}, cwd: root})
    expect(result.host).toBe('localhost')
    expect(result.manifest).toBeUndefined()
    expect(result.errors).toBe(0)
    expect(result.findings[0]).toMatchObject({file: paths.ca})
  })

  it('takes the folder from the services and the host from the registry of a manifest', async () => {
    const project = join(root, 'project')
    await mkdir(project)
    await writeCertificateSet(join(project, 'tls'), await createCertificateSet({hosts: ['worker-2.internal']}))
    await writeFile(
      join(project, 'services.yaml'),
      [
        'version: 1',
        'registry: {host: worker-2.internal}',
        'defaults:',
        '  certs: ./tls',
        'services:',
        '  echo:',
        '    command: [node, server.js]',
        '',
      ].join('\n'),
    )
    const sub = join(project, 'sub')
    await mkdir(sub)
    const result = await runCertificateCheck({env: {}, cwd: sub})
    expect(result.manifest).toBe(join(project, 'services.yaml'))
    expect(result.host).toBe('worker-2.internal')
    expect(result.errors).toBe(0)
    expect(result.findings).toContainEqual({
      level: 'ok',
      file: join(project, 'tls', 'server.crt'),
      message: 'covers host worker-2.internal',
    })
  })

  it('lets --dir and --host override the manifest', async () => {
    await writeFile(
      join(root, 'services.yaml'),
      ['version: 1', 'registry: {host: worker-2.internal}', 'services:', '  echo:', '    command: [node, server.js]', ''].join('\n'),
    )
    const result = await runCertificateCheck({dir: 'certs', host: '127.0.0.1', env: {}, cwd: root})
    expect(result.manifest).toBe(join(root, 'services.yaml'))
    expect(result.host).toBe('127.0.0.1')
    expect(result.errors).toBe(0)
    expect(result.findings).toContainEqual({level: 'ok', file: paths.serverCert, message: 'covers host 127.0.0.1'})
  })

  it('fails on a manifest named by -f that does not exist rather than guessing', async () => {
    await expect(runCertificateCheck({manifestFlag: 'nope.yaml', env: {}, cwd: root})).rejects.toMatchObject({
      code: 'MANIFEST',
      exitCode: 2,
      message: `manifest ${join(root, 'nope.yaml')} does not exist`,
    })
  })
})
