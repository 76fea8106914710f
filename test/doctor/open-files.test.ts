// The open-files check against a limit given to it: the numbers it uses and the three outcomes.
import {describe, expect, test} from 'vitest'
import {checkOpenFiles, readOpenFilesLimit} from '../../src/doctor/open-files.js'

const fixed = (soft: number, hard: number) => () => ({soft, hard})

describe('open-files', () => {
  test('reads this process\'s limit from /proc', () => {
    const limit = readOpenFilesLimit()
    expect(limit.soft).toBeGreaterThan(0)
    expect(limit.hard).toBeGreaterThanOrEqual(limit.soft)
  })

  test('OK with twice what 40 services need, WARN below that, FAIL below the need itself', () => {
    const why = '40 services (every port of port_range served; this manifest has 3) need about 232: 32 of the daemon\'s own and 5 per service (probe connections, log pipe, log process)'
    expect(checkOpenFiles(3, undefined, fixed(1024, 524288))).toEqual({
      name: 'open-files',
      status: 'OK',
      message: `open files: soft limit 1024, hard 524288, of this shell (a daemon started from it inherits it); ${why}`,
    })
    expect(checkOpenFiles(3, 4242, fixed(300, 4096))).toEqual({
      name: 'open-files',
      status: 'WARN',
      message: `open files: soft limit 300, hard 4096, of the running daemon, pid 4242; ${why}: less than twice that leaves little room for bursts`,
      fix: 'ulimit -n 1024 in the shell that runs qm start (the daemon and its services inherit it)\nthen qm shutdown --keep-services and qm start, so that the new daemon has it',
    })
    expect(checkOpenFiles(3, undefined, fixed(200, 256))).toMatchObject({
      status: 'FAIL',
      fix: 'raise the hard limit to 1024 or more: LimitNOFILE=1024 in a systemd unit, or a nofile line in /etc/security/limits.conf; then ulimit -n 1024',
    })
  })

  test('counts the manifest\'s instances when there are more than 40', () => {
    expect(checkOpenFiles(100, undefined, fixed(4096, 4096)).message).toContain("this manifest's 100 service instances need about 532")
  })
})
