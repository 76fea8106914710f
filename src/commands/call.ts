import {Args, Flags} from '@oclif/core'
import {durationFlag} from '../manifest/units.js'
import {QmCommand} from '../cli/qm-command.js'
import type {CallResult, ReceivedFrame} from '../call/call.js'

export default class Call extends QmCommand {
  static override summary = 'Send one frame to a service\'s quantra.MicroService/Call and print what comes back.'
  static override description = `Opens Call over mutual TLS with the client pair, sends one frame and half-closes. Without --frame the frame is {"oauth2": {"url": URL}, "data": DATA, "tod": "object", "eos": true}. Each response frame is printed as one JSON line on stdout as it arrives. Exits 0 when an end-of-stream frame arrived and no error frame did, else 1.

A NAME's port comes from the registry and its certificates from the manifest; for host:port the certificates are --certs, else those of the manifest's services, else ./certs.`
  static override examples = [
    `<%= config.bin %> call echo --data '[{"meta": {"filename": "a.txt"}, "content": {"text": "hello"}}]'`,
    `<%= config.bin %> call localhost:50052 --frame '{"data": [], "eos": true}' --certs /ms/certs`,
  ]
  static override args = {target: Args.string({description: 'service name, or host:port', required: true})}
  static override flags = {
    data: Flags.string({char: 'd', description: 'the records to send, a JSON array: [{"meta": {}, "content": {}}]', exclusive: ['frame']}),
    frame: Flags.string({description: 'the whole frame to send, a JSON object', exclusive: ['data']}),
    url: Flags.string({description: 'oauth2.url of the frame (default qm://call)'}),
    certs: Flags.string({description: 'folder with ca.crt, client.crt and client.key'}),
    timeout: Flags.string({description: 'how long the whole call may take', default: '10s'}),
  }

  async run(): Promise<CallResult> {
    const {args, flags} = await this.parse(Call)
    const {runCall} = await import('../call/call.js')
    const result = await runCall({
      target: args.target,
      ...(flags.data === undefined ? {} : {data: flags.data}),
      ...(flags.frame === undefined ? {} : {frame: flags.frame}),
      ...(flags.url === undefined ? {} : {url: flags.url}),
      ...(flags.certs === undefined ? {} : {certsDir: flags.certs}),
      ...(flags.manifest === undefined ? {} : {manifestFlag: flags.manifest}),
      timeoutMs: durationFlag(flags.timeout),
      env: process.env,
      cwd: process.cwd(),
      onFrame: (frame: ReceivedFrame) => this.out(JSON.stringify('json' in frame ? frame.json : frame.payload)),
    })
    const version = result.version ? `, version ${result.version}` : ''
    this.diag(`${result.frames} frame(s) from ${result.target} in ${Math.round(result.latencyMs)} ms${version}`)
    return result
  }
}
