// The allocation rule, kept free of SQL so both stores share it: the lowest port in
// range that no row of the host holds (active or not) and nothing on the host uses.

export interface PortChoice {
  port?: number
  /** Ports skipped because something outside the registry uses them, with who. */
  skipped: {port: number; holder: string}[]
}

export function pickPort(
  [first, last]: readonly [number, number],
  registered: ReadonlySet<number>,
  portInUse: (port: number) => string | undefined,
): PortChoice {
  const skipped: PortChoice['skipped'] = []
  for (let port = first; port <= last; port++) {
    if (registered.has(port)) continue
    const holder = portInUse(port)
    if (holder === undefined) return {port, skipped}
    skipped.push({port, holder})
  }
  return {skipped}
}
