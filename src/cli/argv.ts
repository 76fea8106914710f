// The command line as people type it, made into what oclif reads, before oclif sees it:
// `qm -f FILE CMD …` (docker compose's global -f before the command), `qm help [CMD]`,
// `qm CMD -h`, `qm version` and `qm -v`. Everything else passes through unchanged.

export function normalizeArgv(argv: readonly string[]): string[] {
  const args = [...argv]
  const moved: string[] = []
  // Leading manifest options go behind the command, where every command reads --manifest.
  for (;;) {
    const first = args[0]
    if ((first === '-f' || first === '--manifest') && args.length >= 2) {
      moved.push('--manifest', args[1]!)
      args.splice(0, 2)
    } else if (first?.startsWith('--manifest=')) {
      moved.push(first)
      args.shift()
    } else {
      break
    }
  }
  if (args.length === 1 && (args[0] === '-v' || args[0] === 'version')) return ['--version']
  if (args[0] === 'help') return [...args.slice(1), '--help']
  const end = args.indexOf('--')
  const head = end === -1 ? args : args.slice(0, end)
  const tail = end === -1 ? [] : args.slice(end)
  return [...head.map((arg) => (arg === '-h' ? '--help' : arg)), ...moved, ...tail]
}
