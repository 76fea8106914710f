// The certificate sets of the manifest's services, checked as `qm certs check` does: the
// findings that are not OK become this check's message, and the command a finding names
// ("run chmod 600 …") its fix.
import {dirname} from 'node:path'
import {runCertificateCheck} from '../certs/check-target.js'
import type {Manifest} from '../manifest/types.js'
import {check, displayPath, type DoctorCheck} from './report.js'

const GENERIC_FIX = 'qm certs check lists every finding; qm certs init --force makes a new development set'

export async function checkCertificateSets(manifest: Manifest, env: NodeJS.ProcessEnv, now?: Date): Promise<DoctorCheck> {
  const result = await runCertificateCheck({manifestFlag: manifest.file, env, cwd: manifest.dir, ...(now ? {now} : {})})
  const show = (file: string) => displayPath(manifest.dir, file)
  const problems = result.findings.filter((finding) => finding.level !== 'ok')
  if (problems.length === 0) {
    const dirs = [...new Set(result.findings.map((finding) => `${show(dirname(finding.file))}/`))]
    return check('certificates', 'OK', `${dirs.join(', ')} ${dirs.length === 1 ? 'passes' : 'pass'} every check of qm certs check for host ${result.host}`)
  }
  const messages: string[] = []
  const fixes: string[] = []
  for (const finding of problems) {
    const [what, command] = splitRun(finding.message)
    messages.push(`${show(finding.file)} ${what}`)
    fixes.push(command ?? GENERIC_FIX)
  }
  return check('certificates', result.errors > 0 ? 'FAIL' : 'WARN', messages.join('; '), [...new Set(fixes)].join('\n'))
}

/** "is readable by others (mode 0644); run chmod 600 F" → the finding and the command. */
function splitRun(message: string): [string, string | undefined] {
  const at = message.lastIndexOf('; run ')
  return at < 0 ? [message, undefined] : [message.slice(0, at), message.slice(at + '; run '.length)]
}
