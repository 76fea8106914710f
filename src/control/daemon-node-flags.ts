// How the supervisor's process is tuned, in the background daemon and in `qm up` alike.
//
// The supervisor is small and long-lived, and busy only in bursts (a start of 40 services);
// its garbage is short-lived (probe calls, log lines). V8's defaults are made for the
// opposite: a young generation that grows to 16 MB and optimising compilers whose code
// and feedback stay resident. With these, the daemon with 40 services holds about 69 MB
// instead of 98 MB, and measures no slower (`npm run bench`). --lite-mode would save the
// same but disables WebAssembly, which Node's own fetch needs: a library that touches
// globalThis.fetch would crash the daemon. --optimize-for-size makes V8 grow its heap
// less eagerly: with 40 services about 2 MB less just after a start and 7 to 10 MB less
// after three starts and stops of all 40, for the same CPU time within the noise (from
// /proc/PID/stat: most of the daemon's time is in the kernel, spawning and reading the
// socket table, where V8's flags change nothing). --expose-gc lets the daemon collect once
// a change is over (src/daemon/settle-heap.ts). --single-threaded-gc collects on the main
// thread only: the heap is some 7 MB, and the helper threads' own buffers cost more than
// they save (1.2 to 2.7 MB less resident with 40 services, three paired runs). --no-maglev
// changes nothing on Node 20, where Maglev is off; Node 22 turns on that third compiler,
// which --no-opt does not stop, and these figures were measured without it.
// Any of these but --single-threaded-gc and --no-maglev makes Node reject the code cache
// built into it for its own modules (V8 keys the cache on the flags), so each built-in
// module the daemon loads is compiled from its source. What the flags save outweighs it:
// with 40 services, a daemon started with none of them and given the settable ones once its
// modules had loaded (the cache then taken) held 62 to 71 MiB; one with the semi-space and
// GC flags on its command line and the others set late, 64 to 65 MiB; one with all of them
// on its command line, as here, 57 to 60 MiB (two rounds each, in turns).

/**
 * The flags V8 still honours when they are set in a running process: `qm up` is started by
 * the operator's `node`, with no flags of ours, and bin/run.js sets these on it before it
 * loads anything else. With 40 services it then holds about 64 MiB instead of 70 to 72.
 * --single-threaded-gc set this late crashes V8; the others change nothing once the heap
 * is made.
 */
export const V8_FLAGS_SETTABLE_LATE = ['--no-opt', '--no-sparkplug', '--no-maglev', '--optimize-for-size'] as const

/** The background daemon's command line, before its entry file. */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=1', ...V8_FLAGS_SETTABLE_LATE, '--single-threaded-gc', '--expose-gc']
