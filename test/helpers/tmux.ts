// A full-screen command in a real terminal: tmux runs it in a window of the size asked for,
// keys are typed with send-keys, the window can be resized, and capture-pane reads the
// screen as a person sees it (a stream of a pty holds every redraw; this is the frame).
// Each screen has a tmux server of its own, ended when the test finishes.
import {spawnSync} from 'node:child_process'
import {onTestFinished} from 'vitest'

export interface Screen {
  /** The screen's lines now, trailing spaces dropped. */
  lines(): string[]
  /** The screen with its colour and style codes. */
  styled(): string
  keys(...keys: string[]): void
  /** Typed as text, each character as it is. */
  type(text: string): void
  resize(columns: number, rows: number): void
  waitFor(check: (lines: string[]) => boolean, what: string, timeoutMs?: number): Promise<string[]>
  /** Whether the command is still running in the window. */
  running(): boolean
}

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`

export function tmuxScreen(argv: string[], options: {cwd: string; columns: number; rows: number; env?: Record<string, string>}): Screen {
  const socket = `qm-screen-${process.pid}-${Math.random().toString(36).slice(2)}`
  const tmux = (...args: string[]) => spawnSync('tmux', ['-L', socket, ...args], {cwd: options.cwd, encoding: 'utf8'})
  const env = Object.entries(options.env ?? {}).map(([key, value]) => `${key}=${quote(value)} `).join('')
  onTestFinished(() => void tmux('kill-server'))
  const started = tmux('new-session', '-d', '-x', String(options.columns), '-y', String(options.rows), '-c', options.cwd, `${env}${argv.map(quote).join(' ')}`)
  if (started.status !== 0) throw new Error(`tmux new-session failed: ${started.stderr}`)
  // The pane stays once the command has ended, so that its last screen can still be read.
  tmux('set-option', '-g', 'remain-on-exit', 'on')
  const lines = () => tmux('capture-pane', '-p').stdout.replace(/\n$/, '').split('\n').map((line) => line.trimEnd())
  return {
    lines,
    styled: () => tmux('capture-pane', '-p', '-e').stdout,
    keys: (...keys) => void tmux('send-keys', ...keys),
    type: (text) => void tmux('send-keys', '-l', text),
    resize: (columns, rows) => void tmux('resize-window', '-x', String(columns), '-y', String(rows)),
    waitFor: async (check, what, timeoutMs = 10_000) => {
      const deadline = performance.now() + timeoutMs
      for (;;) {
        const now = lines()
        if (check(now)) return now
        if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; the screen shows:\n${now.join('\n')}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    },
    running: () => tmux('display-message', '-p', '#{pane_dead}').stdout.trim() === '0',
  }
}
