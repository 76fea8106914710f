// Units as the exported files write them: durations ("500ms", "10s", which both qm and
// systemd read) and Kubernetes quantities ("500m", "128Mi") as numbers for the systemd
// settings that take them, CPUQuota= in percent of one core and MemoryMax= in bytes.

/** Whole seconds as "10s", anything else in milliseconds. */
export function durationText(ms: number): string {
  const whole = Math.round(ms)
  return whole % 1000 === 0 ? `${whole / 1000}s` : `${whole}ms`
}

const SUFFIXES: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
}

function quantity(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(text)
  // The manifest schema has checked the form already.
  if (!match) throw new Error(`not a Kubernetes quantity: ${text}`)
  return Number(match[1]) * SUFFIXES[match[2] ?? '']!
}

export function cpuCores(text: string): number {
  return quantity(text)
}

export function memoryBytes(text: string): number {
  return Math.ceil(quantity(text))
}
