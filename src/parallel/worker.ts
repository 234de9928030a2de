// A Piscina worker: attaches to the shared arena and data once at start-up, then runs
// either the step loop (`serve`, one long task per thread that runs whole sequences of
// steps, see src/step-loop.ts) or `evaluate` tasks that carry only a slot number and a
// sample range.
import { availableParallelism } from 'node:os';
import { workerData } from 'piscina';
import { loadKernels } from '../kernels/load.js';
import { ACCUMULATE, APPLY, APPLY_AND_CLEAR } from '../kernels/kernels.js';
import { otherCopy } from './arena.js';
import { modelShape } from '../model/model.js';
import { evaluateRange, forwardBackward, makeNet, rowBlocks, updateWeights } from './pass.js';
import {
  DONE, OPCODE, OP_STOP, RESULT_FIELDS, SEQUENCE, STEPS_DONE, Shares, barrier, barrierPolls, blockCounter, sampleCounter,
  type EvalResult, type EvalTask, type ServeTask, type StepResult, type WorkerData,
} from './protocol.js';
import { CLASSES } from '../data/mnist.js';
import { commitFault, faultDue } from './fault-hook.js';

const data = workerData as WorkerData;
const f = new Float32Array(data.memory.buffer);
const shape = modelShape(data.hidden);
const net = makeNet(shape, data.plan, await loadKernels(data.kernels, data.memory, f), f);
const blocks = rowBlocks(shape);
/** Phase 1 hands out a round's samples in about this many pieces per thread: fine enough that a slow core or a late start costs little. */
const PIECES_PER_THREAD = 8;
/**
 * A thread sweeps the whole copy of the weights into its cache at a step's start only when
 * its share of the round is at least this many samples. A few samples touch a fraction of
 * the first layer's rows, and the sweep would fetch more lines than it saves (16 cores,
 * README: The weight sweep on 16 cores); 2 workers at batch 64 keep it.
 */
const SWEEP_MIN_SHARE = 32;
const spin = barrierPolls(data.plan.slotCount, availableParallelism());

// This thread's shares of a round's samples (phase 1) and parameter blocks (phase 2), made
// anew by each serve task (a Piscina thread may serve another slot after a restart). Module
// variables rather than arguments of step: passing them in an object made V8 drop and
// recompile step in every epoch after the first.
let samples: Shares;
let rows: Shares;

/** Runs every run of steps the coordinator publishes until it publishes OP_STOP. */
export function serve({ slot, sequence }: ServeTask): void {
  const { control, command, results } = data;
  const threads = net.plan.slotCount;
  samples = new Shares(control, sampleCounter, slot, threads);
  rows = new Shares(control, blockCounter, slot, threads);
  for (;;) {
    Atomics.wait(control, SEQUENCE, sequence);
    const next = Atomics.load(control, SEQUENCE);
    if (next === sequence) continue;
    sequence = next;
    if (Atomics.load(control, OPCODE) === OP_STOP) return;
    const [first, batch, end, count, lr, params] = command;
    net.params = params;
    for (let i = 0; i < count; i++) {
      const lo = first + i * batch;
      const hi = Math.min(end, lo + batch);
      const into = otherCopy(net.plan, net.params);
      const r = step(slot, lo, hi, lr / (hi - lo), into);
      net.params = into; // what this step wrote, the next one reads
      results.set([r.lossSum, r.correct, r.computeMs, r.waitMs, r.reduceMs], (i * threads + slot) * RESULT_FIELDS);
    }
    if (Atomics.add(control, DONE, 1) === threads - 1) Atomics.notify(control, DONE);
  }
}

/**
 * This thread's part of one SGD step on samples order[lo..hi), in rounds of at most
 * plan.rows samples, reading the parameters at net.params and writing the updated ones at
 * `into`. Work is taken, not assigned: a thread takes pieces of its own share
 * of the rows (phase 1) and of the parameter blocks (phase 2), then of what is left of the
 * others' shares, so a slower core simply does less (see Shares).
 */
function step(slot: number, lo: number, hi: number, scale: number, into: number): StepResult {
  const { control, sampleLoss } = data;
  const threads = net.plan.slotCount;
  const r: StepResult = { lossSum: 0, correct: 0, computeMs: 0, waitMs: 0, reduceMs: 0 };
  for (let start = lo; start < hi; start += net.plan.rows) {
    const n = Math.min(net.plan.rows, hi - start);
    const lastRound = start + n >= hi;
    const t0 = performance.now();
    // Other threads have just updated their rows of the weights: fetch them in one sweep.
    // Only the step's last round changes the weights, so later rounds find them in place.
    if (threads > 1 && start === lo && n >= SWEEP_MIN_SHARE * threads) net.kernels.pull(net.params, net.plan.paramCount);
    for (samples.begin(n, Math.ceil(n / (PIECES_PER_THREAD * threads))); samples.next();) {
      r.correct += forwardBackward(net, data.train, data.order, start, samples.lo, samples.hi, sampleLoss);
    }
    if (start === lo && faultDue(data.faultHook, 1, slot, threads)) commitFault(data.faultHook!); // TEST HOOK, inert unless THREADGRAD_INJECT_FAULT is set
    const t1 = performance.now();
    // Phase 2 reads every sample's deltas. The counters are reset by the last thread in, after
    // the others have stopped taking from them and before any can reach the next round.
    if (barrier(control, threads, spin)) samples.reset();
    const t2 = performance.now();
    if (slot === 0) for (let s = 0; s < n; s++) r.lossSum += sampleLoss[s];
    const mode = !lastRound ? ACCUMULATE : start === lo ? APPLY : APPLY_AND_CLEAR;
    for (rows.begin(blocks.length, 1); rows.next();) updateWeights(net, blocks[rows.lo], n, scale, mode, slot, into);
    if (lastRound && faultDue(data.faultHook, 2, slot, threads)) commitFault(data.faultHook!); // TEST HOOK, as above
    const t3 = performance.now();
    // The next round's forward pass reads every row of the weights. A step counts once every
    // thread has written its rows: until then the copy it read is whole and it can run again.
    if (barrier(control, threads, spin)) {
      rows.reset();
      if (lastRound) Atomics.add(control, STEPS_DONE, 1);
    }
    r.computeMs += t1 - t0;
    r.reduceMs += t3 - t2;
    // The wait at the step's last barrier is left out: it overlaps the next step's start in
    // the other threads, and the coordinator's share is the step time no worker accounts for.
    r.waitMs += t2 - t1 + (lastRound ? 0 : performance.now() - t3);
  }
  return r;
}

export function evaluate(task: EvalTask): EvalResult {
  const confusion = new Int32Array(CLASSES * CLASSES);
  net.params = task.params;
  const { lossSum, correct } = evaluateRange(net, task.slot, data[task.split], task.lo, task.hi, confusion);
  return { lossSum, correct, confusion };
}
