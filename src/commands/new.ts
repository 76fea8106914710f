import {relative} from 'node:path'
import {Args, Flags} from '@oclif/core'
import {QmCommand} from '../cli/qm-command.js'
import type {NewServiceResult} from '../scaffold/new-service.js'

export default class New extends QmCommand {
  static override summary = 'Make a new microservice that follows the contract, give it a port and add it to the manifest.'
  static override description = `Creates DIR/NAME/ beside the manifest with a copy of microservice.proto and health.proto, a server (quantra.MicroService/Call over the frame format, the six standard arguments, mTLS with client certificates required, SERVICE_VERSION in the response metadata, grpc.health.v1, a clean stop on SIGTERM) and a unit test of its frame handling. Registers a port and appends the service to the manifest, keeping its comments; with no manifest, writes a minimal services.yaml here.

Python: stubs are generated with Debian's grpc_tools (python3-grpc-tools); test with \`PYTHON -m unittest\` in the folder, PYTHON being the interpreter of the manifest entry (--python). TypeScript: runs npm install and npm run build in the folder unless --no-install; test with \`npm test\`.

Nothing is written when NAME is taken (manifest or registry) or the folder exists; a step that fails part-way removes what was written.`
  static override examples = [
    '<%= config.bin %> new pdf_extractor',
    '<%= config.bin %> new ocr --lang typescript --port 50060',
    '<%= config.bin %> new table_reader --dir services --python /opt/venv/bin/python',
  ]
  static override enableJsonFlag = true
  static override args = {name: Args.string({description: 'service name (lowercase, underscore-separated)', required: true})}
  static override flags = {
    lang: Flags.string({char: 'l', description: 'language of the server', options: ['python', 'typescript'], default: 'python'}),
    dir: Flags.string({char: 'd', description: 'folder for service folders, relative to the manifest', default: 'ms'}),
    port: Flags.integer({char: 'p', description: 'a fixed port instead of the lowest free one'}),
    install: Flags.boolean({description: 'TypeScript: run npm install and npm run build', default: true, allowNo: true}),
    python: Flags.string({description: 'Python interpreter for the manifest command and the stubs (default /usr/bin/python3)'}),
  }

  async run(): Promise<NewServiceResult> {
    const {args, flags} = await this.parse(New)
    const {createService} = await import('../scaffold/new-service.js')
    const result = await createService({
      name: args.name,
      language: flags.lang as 'python' | 'typescript',
      dir: flags.dir,
      install: flags.install,
      ...(flags.port === undefined ? {} : {port: flags.port}),
      ...(flags.python === undefined ? {} : {python: flags.python}),
      ...(flags.manifest === undefined ? {} : {manifestFlag: flags.manifest}),
      env: process.env,
      cwd: process.cwd(),
      onStep: (step) => this.diag(`running ${step}`),
    })
    if (!this.jsonEnabled()) {
      const shown = (path: string) => relative(process.cwd(), path) || path
      for (const file of result.files) this.out(`wrote ${shown(file)}`)
      this.out(`registered ${result.name} on port ${result.endpoint.port} (host ${result.endpoint.host})`)
      this.out(`${result.manifestCreated ? 'created' : 'updated'} ${shown(result.manifest)}: ${result.command.join(' ')}`)
      if (result.language === 'typescript' && !result.installed) this.diag(`next: npm install && npm run build in ${shown(result.folder)}`)
      if (result.certsMissing) this.diag(`next: qm certs init --dir ${shown(result.certsDir)} (no certificates there yet)`)
      this.diag(`next: cd ${shown(result.folder)} && ${result.testCommand.join(' ')}  (its unit test)`)
      this.diag(`next: qm start ${result.name}  (made in ${(result.elapsedMs / 1000).toFixed(1)} s)`)
    }
    return result
  }
}
