// The exit of a process this daemon did not spawn (adopted after a restart of the
// daemon) cannot be awaited; it is polled by pid and start time instead.
import type {ExitInfo} from './spawn.js'
import {isSameProcess} from './proc.js'

export function watchAdoptedExit(pid: number, startTime: number, signal: AbortSignal, pollMs = 250): Promise<ExitInfo> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (!isSameProcess(pid, startTime)) {
        clearInterval(timer)
        resolve({code: null, signal: null})
      }
    }, pollMs)
    signal.addEventListener('abort', () => clearInterval(timer), {once: true})
  })
}
