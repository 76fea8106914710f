// Several hosts on one machine: a network namespace per host (iproute2's `ip netns`), each
// with its own loopback and one veth into a bridge, so the hosts reach each other at
// 10.213.N.x/24 and nothing else. The bridge has an address in the test's own namespace
// too, so the test reaches every host directly. Names carry the test's pid, so two runs
// at once do not meet; remove() deletes them all, killing every process left inside.
import {execFileSync, spawnSync} from 'node:child_process'

export interface NetworkHost {
  /** The namespace's name, for `ip netns exec`. */
  namespace: string
  address: string
  /** The host end of its veth, in the test's namespace: down, the host is off the network. */
  link: string
}

export interface Network {
  /** 10.213.N.0/24 */
  cidr: string
  /** The bridge's address, in the test's namespace. */
  gateway: string
  hosts: NetworkHost[]
  /** argv that runs `argv` inside a host's namespace. */
  inside(host: NetworkHost, argv: string[]): string[]
  /** Pids of every process in a host's namespace. */
  pids(host: NetworkHost): number[]
  /** Kills every process of each namespace (pid and group), deletes the namespaces and the bridge; safe to call twice. */
  remove(): void
}

function ip(args: string[]): void {
  execFileSync('ip', args, {stdio: ['ignore', 'ignore', 'pipe']})
}

/**
 * Hosts named by `names`, at .1, .2, … of a /24 chosen from the pid (10.213.0.0/16 is
 * unlikely to be routed on a test machine; a second run at once gets another /24).
 */
export function makeNetwork(names: readonly string[]): Network {
  const id = `${process.pid}`
  const octet = process.pid % 250
  const bridge = `qmbr${id}`
  const made: NetworkHost[] = []
  let bridgeMade = false
  const network: Network = {
    cidr: `10.213.${octet}.0/24`,
    gateway: `10.213.${octet}.254`,
    hosts: made,
    inside: (host, argv) => ['ip', 'netns', 'exec', host.namespace, ...argv],
    pids: (host) => {
      const listed = spawnSync('ip', ['netns', 'pids', host.namespace], {encoding: 'utf8'})
      return listed.status === 0 ? listed.stdout.split('\n').filter((line) => /^\d+$/.test(line)).map(Number) : []
    },
    remove: () => {
      for (const host of made) {
        for (const pid of network.pids(host)) {
          for (const target of [-pid, pid]) {
            try {
              process.kill(target, 'SIGKILL')
            } catch {
              // gone already, or not a group leader: either way not running
            }
          }
        }
        // Deleting the namespace deletes its veth pair too.
        spawnSync('ip', ['netns', 'del', host.namespace])
      }
      made.length = 0
      if (bridgeMade) spawnSync('ip', ['link', 'del', bridge])
      bridgeMade = false
    },
  }
  try {
    ip(['link', 'add', bridge, 'type', 'bridge'])
    bridgeMade = true
    ip(['addr', 'add', `${network.gateway}/24`, 'dev', bridge])
    ip(['link', 'set', bridge, 'up'])
    names.forEach((name, index) => {
      const host: NetworkHost = {namespace: `qm${id}${name}`, address: `10.213.${octet}.${index + 1}`, link: `qv${id}${index}`}
      ip(['netns', 'add', host.namespace])
      made.push(host)
      ip(['link', 'add', host.link, 'type', 'veth', 'peer', 'name', `qp${id}${index}`])
      ip(['link', 'set', `qp${id}${index}`, 'netns', host.namespace])
      ip(['link', 'set', host.link, 'master', bridge])
      ip(['link', 'set', host.link, 'up'])
      const inside = (args: string[]) => ip(['netns', 'exec', host.namespace, 'ip', ...args])
      inside(['link', 'set', 'lo', 'up'])
      inside(['link', 'set', `qp${id}${index}`, 'name', 'eth0'])
      inside(['addr', 'add', `${host.address}/24`, 'dev', 'eth0'])
      inside(['link', 'set', 'eth0', 'up'])
    })
  } catch (error) {
    network.remove()
    throw error
  }
  return network
}
