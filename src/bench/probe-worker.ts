// The other end of coreRoundTripNs (src/probe.ts): copies each PING to PONG until PING is STOP.
import { PING, PONG, READY, STOP } from './probe.js';

export function echo({ words }: { words: Int32Array }): void {
  Atomics.store(words, READY, 1);
  for (;;) {
    const v = Atomics.load(words, PING);
    if (v === STOP) return;
    if (v !== Atomics.load(words, PONG)) Atomics.store(words, PONG, v);
  }
}
