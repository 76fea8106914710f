// Whether the manifest's port range is safe from outgoing connections: a port inside the
// kernel's ephemeral range (net.ipv4.ip_local_port_range) and not in
// net.ipv4.ip_local_reserved_ports can be given to any connect() on the host as its source,
// and a socket holding it, or its TIME_WAIT, keeps a service from binding it. qm's own
// probes never cause that (src/health/dial-guard.ts); other programs on the host can.
import {
  exposedPorts,
  formatPortList,
  formatSpan,
  PORT_SYSCTL_FILES,
  readEphemeralPortSettings,
  RESERVED_PORTS_SYSCTL,
  reservedPortsValue,
  reserveCommand,
  type EphemeralPortSettings,
  type PortSpan,
  type PortSysctlFiles,
} from '../net/port-sysctls.js'
import {check, type DoctorCheck} from './report.js'

export const SYSCTL_CONF_FILE = '/etc/sysctl.d/60-qm-ports.conf'

export function checkReservedPorts(range: PortSpan, files: PortSysctlFiles = PORT_SYSCTL_FILES): DoctorCheck {
  let settings: EphemeralPortSettings
  try {
    settings = readEphemeralPortSettings(files)
  } catch (error) {
    return check('reserved-ports', 'WARN', `cannot read the kernel's port settings: ${(error as Error).message}`, 'qm reads /proc/sys/net/ipv4, which only Linux provides')
  }
  const exposed = exposedPorts(range, settings)
  const ephemeral = formatSpan(settings.ephemeral)
  const reserved = `${RESERVED_PORTS_SYSCTL}=${formatPortList(settings.reserved)}`
  if (exposed.length === 0) {
    const inside = exposedPorts(range, {...settings, reserved: []}).length > 0
    return check(
      'reserved-ports',
      'OK',
      inside
        ? `ports ${formatSpan(range)} are reserved (${reserved}): no outgoing connection is given one as its source`
        : `ports ${formatSpan(range)} lie outside the ephemeral range ${ephemeral}: no outgoing connection is given one as its source`,
    )
  }
  const which = exposed.length === 1 && exposed[0]![0] === range[0] && exposed[0]![1] === range[1]
    ? `ports ${formatSpan(range)} lie`
    : `ports ${formatPortList(exposed)} of ${formatSpan(range)} lie`
  return check(
    'reserved-ports',
    'WARN',
    `${which} in the ephemeral range ${ephemeral} and are not reserved (${settings.reserved.length === 0 ? `${RESERVED_PORTS_SYSCTL} is empty` : reserved}): any outgoing connection on this host can be given one as its source port and keep a service from binding it`,
    reservationFix(range, settings),
  )
}

/** The sysctl line for now and the file that keeps it across reboots. */
export function reservationFix(range: PortSpan, settings: EphemeralPortSettings): string {
  return [
    reserveCommand(range, settings),
    `and, to keep it after a reboot, write ${SYSCTL_CONF_FILE} containing:`,
    `${RESERVED_PORTS_SYSCTL} = ${reservedPortsValue(range, settings)}`,
  ].join('\n')
}
