import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {createCa, issueCertificate, writeCertificateSet} from '../../src/certs/issue.js'
import {makeProject, service} from '../helpers/project.js'

describe('qm status and certificates in use', () => {
  it('warns under the table when a certificate in use expires within 30 days', async () => {
    const project = await makeProject()
    project.writeManifest(service('alpha', 'guide-call-server.mjs'))
    const notAfter = new Date(Date.now() + 10.5 * 86_400_000)
    const ca = await createCa()
    const server = await issueCertificate(ca, {commonName: 'localhost', usage: 'server', sans: ['localhost', '127.0.0.1'], notAfter})
    const client = await issueCertificate(ca, {commonName: 'qm', usage: 'client'})
    await writeCertificateSet(join(project.dir, 'certs'), {ca, server, client}, {force: true})

    const text = await project.qm('status')
    const serverCrt = join(project.dir, 'certs', 'server.crt')
    expect(text.stdout.split('\n')).toContain(`certificate expires soon: ${serverCrt} in 10 day(s), on ${notAfter.toISOString().slice(0, 10)}`)
    const json = JSON.parse((await project.qm('status', '--json')).stdout)
    expect(json.certificates).toEqual([{file: serverCrt, expiresAt: expect.stringMatching(/^\d{4}-/), daysLeft: 10}])
  })
})
