// A command on a real pseudo-terminal, as a person runs it: `script` (util-linux) gives it
// a pty of the size asked for, its stdin stays open (a person's does), and what the test
// writes reaches the pty as typed input, so "\x03" is a Ctrl-C from the keyboard.
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {onTestFinished} from 'vitest'
import {killGroup} from './project.js'

export interface PtyRun {
  child: ChildProcess
  /** Everything the terminal showed so far, with the carriage returns kept. */
  output(): string
  /** The output without ANSI escapes and carriage returns: what the screen's lines say. */
  text(): string
  type(keys: string): void
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>
  /** Resolves with the command's exit code (script -e passes it on). */
  exited: Promise<number | null>
}

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`

export function runOnPty(argv: string[], options: {cwd: string; env?: Record<string, string>; columns?: number; rows?: number}): PtyRun {
  const {columns = 80, rows = 24} = options
  const command = `stty cols ${columns} rows ${rows}; exec ${argv.map(quote).join(' ')}`
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    cwd: options.cwd,
    env: {...process.env, TERM: 'xterm-256color', ...options.env},
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  onTestFinished(() => killGroup(child.pid!))
  const text = () => output.replace(/\u001B\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '')
  return {
    child,
    output: () => output,
    text,
    type: (keys) => child.stdin!.write(keys),
    waitFor: async (pattern, timeoutMs = 15_000) => {
      const deadline = performance.now() + timeoutMs
      while (!pattern.test(text())) {
        if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${pattern} on the terminal; it shows:\n${text()}`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    },
    exited,
  }
}

/**
 * The screen a person is left with when the command has ended: tmux runs it in a window of
 * the size asked for, and the pane is read after it exits. A stream of a pty holds every
 * redraw of a live view; this is the one frame that stays. Each call has a tmux server of its own.
 */
export async function finalScreen(argv: string[], options: {cwd: string; columns?: number; rows?: number; timeoutMs?: number}): Promise<{exitCode: number; lines: string[]}> {
  const {columns = 80, rows = 40, timeoutMs = 30_000} = options
  const socket = `qm-test-${process.pid}-${Math.random().toString(36).slice(2)}`
  const tmux = (...args: string[]) => spawnSync('tmux', ['-L', socket, ...args], {cwd: options.cwd, encoding: 'utf8'})
  const done = `${options.cwd}/.tmux-exit-${socket}`
  const command = `${argv.map(quote).join(' ')}; echo $? > ${quote(done)}; sleep 600`
  onTestFinished(() => void tmux('kill-server'))
  const started = tmux('new-session', '-d', '-x', String(columns), '-y', String(rows), '-c', options.cwd, command)
  if (started.status !== 0) throw new Error(`tmux new-session failed: ${started.stderr}`)
  const deadline = performance.now() + timeoutMs
  const {existsSync, readFileSync} = await import('node:fs')
  while (!existsSync(done) || readFileSync(done, 'utf8').trim() === '') {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${argv.join(' ')} under tmux`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const screen = tmux('capture-pane', '-p', '-J').stdout
  tmux('kill-server')
  return {exitCode: Number(readFileSync(done, 'utf8').trim()), lines: screen.split('\n').map((line) => line.trimEnd()).filter((line, i, all) => line !== '' || all.slice(i).some((l) => l.trim() !== ''))}
}
