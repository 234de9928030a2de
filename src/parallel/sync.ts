// How the workers' updates meet (--sync):
//   step     every batch is shared out among all workers and applied as one update, the
//            same bits for any worker count (pass.ts, worker.ts `step`);
//   local:K  local SGD, or periodic model averaging: each worker takes its own batches and
//            trains its own replica of the weights for K steps; then the replicas are
//            averaged, in the pool, and every worker goes on from the average (replicas.ts).
//            The same bits for a given worker count and seed; with 1 worker, step's bits;
//   hogwild  each worker takes the next batch and applies its update to the one shared
//            copy of the weights without locks (Niu et al. 2011): not deterministic.

export type SyncMode = 'step' | 'local' | 'hogwild';

export interface SyncSpec {
  mode: SyncMode;
  /** local: the steps each worker takes between averages; 1 otherwise. */
  k: number;
}

export const STEP_SYNC: SyncSpec = { mode: 'step', k: 1 };

/** K of a bare `local`: see docs/measurements.md, the K sweep. */
const DEFAULT_LOCAL_STEPS = 16;

export const SYNC_FORMS = `step, local:K (K steps between averages, e.g. local:8; local alone is local:${DEFAULT_LOCAL_STEPS}) or hogwild`;

/** The spec of a --sync value, or undefined if it is none. */
export function parseSync(text: string): SyncSpec | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'step' || t === 'hogwild') return { mode: t, k: 1 };
  if (t === 'local') return { mode: 'local', k: DEFAULT_LOCAL_STEPS };
  const m = /^local:(\d+)$/.exec(t);
  const k = m ? Number(m[1]) : NaN;
  return Number.isSafeInteger(k) && k >= 1 && k <= 1_000_000 ? { mode: 'local', k } : undefined;
}

/** Batches of one round: the unit that calls of the engine come in (local: every worker's K steps and the average). */
export function roundOf(sync: SyncSpec, workers: number): number {
  return sync.mode === 'local' ? sync.k * workers : 1;
}
