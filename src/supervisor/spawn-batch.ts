// Spawning a process blocks the event loop until the child has exec'd (libuv waits for it
// to report an exec failure), tens of ms each on a host busy starting 40 services, two
// spawns a service (it and its log process). A probe whose deadline runs across those
// blocks times out with the service's answer unread: in a start of 40 guide services the
// first probes of many timed out at 2 s although the services had answered (measured with
// `npm run bench`). So the services a start launches together are all spawned before any
// of them is probed.
export class SpawnBatch {
  private issuing = false
  private inFlight = 0
  private waiters: (() => void)[] = []

  /** A start begins launching a group of services. */
  open(): void {
    this.issuing = true
  }

  /** It has issued every launch of the group. */
  close(): void {
    this.issuing = false
    this.wake()
  }

  /** A launch is about to spawn; call the returned function once it has. */
  spawning(): () => void {
    this.inFlight++
    let done = false
    return () => {
      if (done) return
      done = true
      this.inFlight--
      this.wake()
    }
  }

  /** Resolves once no group is being launched and no spawn is under way. */
  settled(): Promise<void> {
    if (this.isSettled()) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  private isSettled(): boolean {
    return !this.issuing && this.inFlight === 0
  }

  private wake(): void {
    if (!this.isSettled()) return
    const waiters = this.waiters
    this.waiters = []
    for (const resolve of waiters) resolve()
  }
}
