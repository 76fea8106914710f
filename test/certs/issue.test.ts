import {mkdtemp, readFile, readdir, rm, stat, writeFile} from 'node:fs/promises'
import {X509Certificate} from 'node:crypto'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import * as grpc from '@grpc/grpc-js'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {QmError} from '../../src/errors.js'
import {
  type CertificateSet,
  createCa,
  createCertificateSet,
  issueCertificate,
  writeCertificateSet,
} from '../../src/certs/issue.js'

const buffer = {
  serialize: (b: Buffer) => b,
  deserialize: (b: Buffer) => b,
}

// One hand-defined unary method: enough for a TLS handshake and a round trip, no proto.
const echoService: grpc.ServiceDefinition = {
  echo: {
    path: '/qm.test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: buffer.serialize,
    requestDeserialize: buffer.deserialize,
    responseSerialize: buffer.serialize,
    responseDeserialize: buffer.deserialize,
  },
}
const EchoClient = grpc.makeGenericClientConstructor(echoService, 'Echo')

async function startServer(set: CertificateSet): Promise<{server: grpc.Server; port: number}> {
  const server = new grpc.Server()
  server.addService(echoService, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      callback(null, Buffer.concat([Buffer.from('echo:'), call.request]))
    },
  })
  const credentials = grpc.ServerCredentials.createSsl(
    Buffer.from(set.ca.certPem),
    [{private_key: Buffer.from(set.server.keyPem), cert_chain: Buffer.from(set.server.certPem)}],
    true,
  )
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? reject(err) : resolve(p)))
  })
  return {server, port}
}

function callEcho(client: grpc.Client, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + 5000)
    ;(client as unknown as Record<string, Function>).echo!(
      Buffer.from(payload),
      new grpc.Metadata(),
      {deadline},
      (err: grpc.ServiceError | null, reply?: Buffer) => (err ? reject(err) : resolve(reply!.toString())),
    )
  })
}

describe('certificate set', () => {
  let set: CertificateSet

  beforeEach(async () => {
    set = await createCertificateSet({hosts: ['svc.example.internal', '10.1.2.3']})
  })

  it('writes keys as PEM PKCS#8 and signs server and client with the CA', () => {
    for (const pair of [set.ca, set.server, set.client]) {
      expect(pair.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)
      expect(pair.certPem).toMatch(/^-----BEGIN CERTIFICATE-----\n/)
    }
    const ca = new X509Certificate(set.ca.certPem)
    const server = new X509Certificate(set.server.certPem)
    const client = new X509Certificate(set.client.certPem)
    expect(ca.ca).toBe(true)
    expect(server.verify(ca.publicKey)).toBe(true)
    expect(client.verify(ca.publicKey)).toBe(true)
    expect(server.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1'])
    expect(client.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2'])
  })

  it('gives the server certificate the local names and the extra hosts', () => {
    const server = new X509Certificate(set.server.certPem)
    expect(server.checkHost('localhost')).toBe('localhost')
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1')
    expect(server.checkIP('::1')).toBe('::1')
    expect(server.checkHost('svc.example.internal')).toBe('svc.example.internal')
    expect(server.checkIP('10.1.2.3')).toBe('10.1.2.3')
    expect(server.checkHost('elsewhere.example')).toBeUndefined()
  })

  it('honours the validity it is given', async () => {
    const notBefore = new Date('2020-01-01T00:00:00Z')
    const notAfter = new Date('2020-02-01T00:00:00Z')
    const ca = await createCa({commonName: 'old CA', notBefore, notAfter})
    const leaf = await issueCertificate(ca, {commonName: 'old', usage: 'client', notBefore, notAfter})
    const cert = new X509Certificate(leaf.certPem)
    expect(new Date(cert.validTo).toISOString()).toBe(notAfter.toISOString())
    expect(new Date(cert.validFrom).toISOString()).toBe(notBefore.toISOString())
  })

  it('rejects a validity that is not a whole number of days', async () => {
    await expect(createCertificateSet({days: 0})).rejects.toThrow(
      'certificate validity must be a whole number of days of at least 1, got 0',
    )
  })

  describe('mutual TLS through grpc-js', () => {
    let server: grpc.Server | undefined
    const clients: grpc.Client[] = []

    afterEach(async () => {
      for (const c of clients.splice(0)) c.close()
      await new Promise<void>((resolve) => (server ? server.tryShutdown(() => resolve()) : resolve()))
      server = undefined
    })

    it('completes a call when the client presents the client pair', async () => {
      const started = await startServer(set)
      server = started.server
      const client = new EchoClient(
        `127.0.0.1:${started.port}`,
        grpc.credentials.createSsl(
          Buffer.from(set.ca.certPem),
          Buffer.from(set.client.keyPem),
          Buffer.from(set.client.certPem),
        ),
      )
      clients.push(client)
      await expect(callEcho(client, 'ping')).resolves.toBe('echo:ping')
    })

    it('rejects a client that presents no certificate', async () => {
      const started = await startServer(set)
      server = started.server
      const client = new EchoClient(
        `127.0.0.1:${started.port}`,
        grpc.credentials.createSsl(Buffer.from(set.ca.certPem)),
      )
      clients.push(client)
      await expect(callEcho(client, 'ping')).rejects.toMatchObject({
        code: grpc.status.UNAVAILABLE,
        details: expect.stringContaining('certificate required'),
      })
    })

    it('rejects a client whose certificate comes from another CA', async () => {
      const started = await startServer(set)
      server = started.server
      const other = await createCertificateSet()
      const client = new EchoClient(
        `127.0.0.1:${started.port}`,
        grpc.credentials.createSsl(
          Buffer.from(set.ca.certPem),
          Buffer.from(other.client.keyPem),
          Buffer.from(other.client.certPem),
        ),
      )
      clients.push(client)
      // Under TLS 1.3 the server judges the client certificate after the client's side of
      // the handshake is done, so the client sees only a dropped connection, not the alert.
      await expect(callEcho(client, 'ping')).rejects.toMatchObject({code: grpc.status.UNAVAILABLE})
    })
  })
})

describe('writeCertificateSet', () => {
  let dir: string

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'qm-certs-'))
  })

  afterEach(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it('creates the folder, writes keys 0600 and certificates 0644', async () => {
    const target = join(dir, 'nested', 'certs')
    const written = await writeCertificateSet(target, await createCertificateSet())
    expect(written.map((p) => p.slice(target.length + 1))).toEqual([
      'ca.crt',
      'ca.key',
      'server.crt',
      'server.key',
      'client.crt',
      'client.key',
    ])
    for (const path of written) {
      const mode = (await stat(path)).mode & 0o777
      expect([path, mode]).toEqual([path, path.endsWith('.key') ? 0o600 : 0o644])
    }
  })

  it('refuses to overwrite without force and writes nothing', async () => {
    await writeFile(join(dir, 'server.key'), 'old key\n', {mode: 0o600})
    const attempt = writeCertificateSet(dir, await createCertificateSet())
    await expect(attempt).rejects.toThrow(QmError)
    await expect(attempt).rejects.toMatchObject({
      message: `certificate files already exist: ${join(dir, 'server.key')}`,
      exitCode: 1,
      code: 'CERTS_EXIST',
    })
    expect(await readdir(dir)).toEqual(['server.key'])
    expect(await readFile(join(dir, 'server.key'), 'utf8')).toBe('old key\n')
  })

  it('reports a folder path that is a file as a QmError', async () => {
    const file = join(dir, 'not-a-folder')
    await writeFile(file, '')
    await expect(writeCertificateSet(file, await createCertificateSet())).rejects.toMatchObject({
      message: expect.stringMatching(new RegExp(`^cannot create folder ${file}: EEXIST`)),
      exitCode: 1,
      code: 'CERTS_WRITE',
    })
  })

  it('replaces a world-readable key with a 0600 one when forced', async () => {
    await writeFile(join(dir, 'server.key'), 'old key\n', {mode: 0o644})
    const set = await createCertificateSet()
    await writeCertificateSet(dir, set, {force: true})
    expect((await stat(join(dir, 'server.key'))).mode & 0o777).toBe(0o600)
    expect(await readFile(join(dir, 'server.key'), 'utf8')).toBe(set.server.keyPem)
    expect((await readdir(dir)).sort()).toEqual(
      ['ca.crt', 'ca.key', 'client.crt', 'client.key', 'server.crt', 'server.key'].sort(),
    )
  })
})
