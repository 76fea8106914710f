// How `qm doctor` reads on a terminal: one line per check (status, name, what was found),
// the fix under it, one action per line, aligned with the message.
import type {ChalkInstance} from 'chalk'
import type {DoctorCheck} from '../doctor/report.js'

export function renderDoctorReport(c: ChalkInstance, checks: readonly DoctorCheck[]): string {
  const label = {OK: c.green('OK  '), WARN: c.yellow('WARN'), FAIL: c.red('FAIL')}
  const width = Math.max(0, ...checks.map((check) => check.name.length))
  const lines: string[] = []
  for (const check of checks) {
    lines.push(`${label[check.status]}  ${check.name.padEnd(width)}  ${check.message}`)
    if (check.fix === undefined) continue
    const indent = ' '.repeat(4 + 2 + width + 2)
    check.fix.split('\n').forEach((line, i) => lines.push(`${indent}${i === 0 ? c.dim('fix') : '   '}  ${line}`))
  }
  return lines.join('\n')
}

export function doctorSummary(checks: readonly DoctorCheck[]): string {
  const count = (status: DoctorCheck['status']) => checks.filter((check) => check.status === status).length
  return `${checks.length} checks: ${count('OK')} OK, ${count('WARN')} WARN, ${count('FAIL')} FAIL`
}
