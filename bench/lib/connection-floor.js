// The floor of a supervisor's memory for this job, in Node: a process with the daemon's V8
// flags that holds only what the product contract asks every qm daemon to hold, and none of
// qm's code: a gRPC channel kept open to each service between probes (one mutual-TLS HTTP/2
// connection), probed as qm probes a guide service (Health/Check, answered UNIMPLEMENTED,
// then one end-of-stream frame on Call), and the records of its children and the registry
// in SQLite files. Started by bench/peers.js as
//   node <the daemon's flags> bench/lib/connection-floor.js DIR CERTS_JSON PORTS_JSON
// it says "ready" on stdout once every service has answered twice, then holds all of it
// until it is killed.
import {readFileSync} from 'node:fs'
import {connect as connectHttp2} from 'node:http2'
import {join} from 'node:path'
import {createSecureContext, connect as connectTls} from 'node:tls'
import Database from 'better-sqlite3'

const [dir, certsJson, portsJson] = process.argv.slice(2)
const certs = JSON.parse(certsJson)
const ports = JSON.parse(portsJson)

const files = ['state', 'registry'].map((name) => {
  const db = new Database(join(dir, `floor-${name}.sqlite3`))
  db.pragma('journal_mode = WAL')
  db.exec('CREATE TABLE IF NOT EXISTS service (port INTEGER PRIMARY KEY, pid INTEGER, state TEXT)')
  const write = db.prepare('INSERT OR REPLACE INTO service (port, pid, state) VALUES (?, ?, ?)')
  return {db, write}
})

const secureContext = createSecureContext({ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey)})
const sessions = ports.map((port) =>
  connectHttp2(`https://localhost:${port}`, {
    createConnection: () => connectTls({host: '127.0.0.1', port, secureContext, servername: 'localhost', ALPNProtocols: ['h2']}),
    settings: {enablePush: false},
  }),
)
for (const session of sessions) session.on('error', (error) => fail(`a connection failed: ${error.message}`))

/** A gRPC message of one string field (HealthCheckRequest.service, Frame.payload), framed. */
function message(text) {
  const bytes = Buffer.from(text)
  if (bytes.length > 127) throw new Error('a one-byte length only')
  return Buffer.concat([Buffer.from([0, 0, 0, 0, 2 + bytes.length, 0x0a, bytes.length]), bytes])
}
// qm's Call probe sends this frame (src/health/probe-call.ts); written out here so that no
// module of qm's is loaded into the floor.
const END_OF_STREAM = message(JSON.stringify({oauth2: {url: 'qm://health-probe'}, data: [], tod: 'object', eos: true}))

/** One gRPC call of one message: resolves with its grpc-status. */
function call(session, path, request) {
  return new Promise((resolve, reject) => {
    const stream = session.request({':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers'})
    let status
    stream.on('response', (headers) => (status = headers['grpc-status'] ?? status))
    stream.on('trailers', (trailers) => (status = trailers['grpc-status'] ?? status))
    stream.on('data', () => {})
    stream.on('error', reject)
    stream.on('close', () => resolve(status))
    stream.end(request)
  })
}

function fail(message) {
  process.stderr.write(`connection floor: ${message}\n`)
  process.exit(1)
}

for (let round = 0; round < 2; round++) {
  await Promise.all(
    sessions.map(async (session, i) => {
      const health = await call(session, '/grpc.health.v1.Health/Check', message(''))
      const answer = health === '12' ? await call(session, '/quantra.MicroService/Call', END_OF_STREAM) : health
      if (answer !== '0') fail(`port ${ports[i]} answered grpc-status ${answer}`)
      for (const {write} of files) write.run(ports[i], process.pid, 'running')
    }),
  )
}
process.stdout.write('ready\n')
setInterval(() => {}, 60_000)
