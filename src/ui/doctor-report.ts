// How `qm doctor` reads on a terminal: one line per check (status, name, what was found),
// the fix under it, one action per line, aligned with the message. On a terminal, long
// lines are wrapped to its width and keep that alignment.
import type {ChalkInstance} from 'chalk'
import type {DoctorCheck} from '../doctor/report.js'
import {wrapWords} from './text-width.js'

export function renderDoctorReport(c: ChalkInstance, checks: readonly DoctorCheck[], terminalWidth?: number): string {
  const label = {OK: c.green('OK  '), WARN: c.yellow('WARN'), FAIL: c.red('FAIL')}
  const width = Math.max(0, ...checks.map((check) => check.name.length))
  const indent = ' '.repeat(4 + 2 + width + 2)
  const wrap = (text: string, hanging: string) => (terminalWidth === undefined ? [text] : wrapWords(text, terminalWidth, hanging))
  const lines: string[] = []
  for (const check of checks) {
    lines.push(...wrap(`${label[check.status]}  ${check.name.padEnd(width)}  ${check.message}`, indent))
    if (check.fix === undefined) continue
    check.fix.split('\n').forEach((line, i) => lines.push(...wrap(`${indent}${i === 0 ? c.dim('fix') : '   '}  ${line}`, `${indent}     `)))
  }
  return lines.join('\n')
}

export function doctorSummary(checks: readonly DoctorCheck[]): string {
  const count = (status: DoctorCheck['status']) => checks.filter((check) => check.status === status).length
  return `${checks.length} checks: ${count('OK')} OK, ${count('WARN')} WARN, ${count('FAIL')} FAIL`
}
