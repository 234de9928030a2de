// TEST HOOK for the step retry; inert unless THREADGRAD_INJECT_FAULT is set:
//   THREADGRAD_INJECT_FAULT=throw:step=3          the last worker throws during the 3rd step
//   THREADGRAD_INJECT_FAULT=exit:step=3:times=9   its thread calls process.exit(), on 9 attempts in a row
//   THREADGRAD_INJECT_FAULT=throw:step=3:phase=2  it throws while applying the 3rd step's update
// `step` counts from 1 the steps one Engine has started (a retry counts as one more, so
// with times=K the fault hits attempts step..step+K-1). In phase 1 (the default) the fault
// strikes after the worker's part of the forward/backward pass and before the barrier,
// while the others wait there: the case a retry must survive. With `times` above the
// engine's retry limit the run gives up. In phase 2 it strikes after the worker has written
// its blocks of updated weight rows and before the barrier: the step is not counted, and
// its retry must start from the copy of the weights the failed attempt read.
import { UserError } from '../util/errors.js';

export const FAULT_ENV = 'THREADGRAD_INJECT_FAULT';

export interface FaultHook {
  kind: 'throw' | 'exit';
  /** 1: after the worker's forward/backward pass; 2: after its part of the update. */
  phase: 1 | 2;
  step: number;
  times: number;
  /** How often the last worker has started a step, retries included. Shared memory, so that
   * every worker, and the thread Piscina starts in place of one that exited, counts on. */
  seen: Int32Array;
}

/** Parsed by the coordinator (a typo is a usage error) and handed to the workers in workerData. */
export function faultHookFromEnv(env: NodeJS.ProcessEnv = process.env): FaultHook | undefined {
  const text = env[FAULT_ENV];
  if (text === undefined || text === '') return undefined;
  const m = /^(throw|exit):step=([1-9]\d*)(?::times=([1-9]\d*))?(?::phase=([12]))?$/.exec(text);
  if (!m) throw new UserError(`${FAULT_ENV}=${JSON.stringify(text)} is not of the form throw|exit:step=N[:times=K][:phase=1|2]`, 2);
  return {
    kind: m[1] as FaultHook['kind'],
    phase: m[4] === '2' ? 2 : 1,
    step: Number(m[2]),
    times: m[3] === undefined ? 1 : Number(m[3]),
    seen: new Int32Array(new SharedArrayBuffer(4)),
  };
}

/**
 * Worker side: whether the fault strikes this worker now. Called once per step attempt in
 * each phase (so that `step` counts attempts whichever worker takes which work); only the
 * last worker counts.
 */
export function faultDue(hook: FaultHook | undefined, phase: 1 | 2, worker: number, workers: number): boolean {
  if (!hook || hook.phase !== phase || worker !== workers - 1) return false;
  const attempt = Atomics.add(hook.seen, 0, 1) + 1;
  return attempt >= hook.step && attempt < hook.step + hook.times;
}

export function commitFault(hook: FaultHook): never {
  if (hook.kind === 'exit') process.exit(70);
  throw new Error(`injected fault (${FAULT_ENV}): this worker threw on purpose`);
}
