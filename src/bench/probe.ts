// How long one cache line takes to go from one core to another and back: the unit price of
// everything a data-parallel step shares (weights one core updated and the other reads,
// each sample's deltas, the barrier's words). On a VM it is not a constant: on the 2-core
// development VM it was 800-1,010 ns most of the time and 215-265 ns for a few minutes (likely the
// host placing the two virtual cores near or far apart), so `bench` measures it before and
// after its cells and reports both next to the speedups.
import { Piscina } from 'piscina';
import { builtFile } from '../util/built.js';

// Words of the shared probe buffer, each on a cache line of its own.
export const PING = 0;
export const PONG = 16;
export const READY = 32;
/** PING value that ends the echo task. */
export const STOP = -1;

/**
 * Nanoseconds per round trip in each of `probes` runs of `rounds` round trips between this
 * thread and a pool thread; a run stops early after `budgetMs`.
 */
export async function coreRoundTrips(rounds = 20_000, probes = 5, budgetMs = 50): Promise<number[]> {
  const pool = new Piscina({ filename: builtFile('src/bench/probe-worker.js'), minThreads: 1, maxThreads: 1 });
  try {
    const times: number[] = [];
    for (let p = 0; p < probes; p++) {
      const words = new Int32Array(new SharedArrayBuffer(64 * 3));
      const echo = pool.run({ words }, { name: 'echo' }) as Promise<void>;
      while (Atomics.load(words, READY) === 0) Atomics.wait(words, READY, 0, 1);
      times.push(pingPong(words, rounds, budgetMs));
      Atomics.store(words, PING, STOP);
      await echo;
    }
    return times;
  } finally {
    await pool.destroy();
  }
}

/** Nanoseconds per round trip: write PING, spin until the echo thread has copied it to PONG. */
function pingPong(words: Int32Array, rounds: number, budgetMs: number): number {
  const t0 = performance.now();
  let i = 1;
  for (; i <= rounds; i++) {
    Atomics.store(words, PING, i);
    while (Atomics.load(words, PONG) !== i);
    // With fewer free cores than threads a round trip takes a scheduler time slice.
    if ((i & 15) === 0 && performance.now() - t0 > budgetMs) break;
  }
  return (1e6 * (performance.now() - t0)) / Math.min(i, rounds);
}
