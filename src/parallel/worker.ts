// A Piscina worker: attaches to the shared arena and data once at start-up, then runs
// either the step loop (`serve`, one long task per worker that runs whole commands of
// steps, see step-loop.ts) or `evaluate` tasks that carry only a worker number and a
// sample range. The records and words it shares with the coordinator are in protocol.ts.
import { availableParallelism } from 'node:os';
import { workerData } from 'piscina';
import { loadKernels } from '../kernels/load.js';
import { ACCUMULATE, APPLY, APPLY_AND_CLEAR } from '../kernels/kernels.js';
import { otherCopy, replicaPlan } from './arena.js';
import { modelShape } from '../model/model.js';
import { ruleOfStep } from '../model/optimizer.js';
import { evaluateRange, forwardBackward, makeNet, rowBlocks, updateWeights, type Net } from './pass.js';
import {
  OPCODE, OP_READY, OP_STOP, SEQUENCE, STEPS_DONE, Shares, WEIGHTS, barrier, barrierPolls, batchOf, blockCounter, countDone, readCommand, sampleCounter, writeResult,
  type EvalResult, type EvalTask, type ServeTask, type StepResult, type WorkerData,
} from './protocol.js';
import { commitFault, faultDue } from './fault-hook.js';
import { hogwildSteps, localRounds, type Trainer } from './replicas.js';

const data = workerData as WorkerData;
const f = new Float32Array(data.memory.buffer);
const shape = modelShape(data.sizes);
const kernels = await loadKernels(data.kernels, data.memory, f);
const blocks = rowBlocks(shape);
/** Phase 1 hands out a chunk's samples in about this many pieces per worker: fine enough that a slow core or a late start costs little. */
const PIECES_PER_WORKER = 8;
/**
 * A worker sweeps the whole copy of the weights into its cache at a step's start only when
 * its share of the chunk is at least this many samples. A few samples touch a fraction of
 * the first layer's rows, and the sweep would fetch more lines than it saves (16 cores,
 * docs/measurements.md: The weight sweep on 16 cores); 2 workers at batch 64 keep it.
 */
const SWEEP_MIN_SHARE = 32;
const spin = barrierPolls(data.plan.workers, availableParallelism());

// This worker's view of the arena and its shares of a chunk's samples (phase 1) and
// parameter blocks (phase 2), made anew by each serve task (a Piscina thread may serve as
// another worker after a restart). Module variables rather than arguments of step: passed in
// an object, they make V8 drop and recompile step once an epoch (docs/measurements.md).
let net: Net;
let samples: Shares;
let rows: Shares;

/** Runs every command the coordinator publishes until it publishes OP_STOP. */
export function serve({ worker, sequence }: ServeTask): void {
  const { control, results } = data;
  const workers = data.plan.workers;
  net = makeNet(shape, data.plan, kernels, f, worker, data.pixels);
  samples = new Shares(control, sampleCounter, worker, workers);
  rows = new Shares(control, blockCounter, worker, workers);
  const alone: Trainer | undefined = data.sync.mode === 'step' ? undefined : {
    data, worker, f, blocks, spin, net: makeNet(shape, replicaPlan(data.plan, worker), kernels, f, worker, data.pixels), losses: new Float64Array(data.plan.chunk),
  };
  for (;;) {
    Atomics.wait(control, SEQUENCE, sequence);
    const next = Atomics.load(control, SEQUENCE);
    if (next === sequence) continue;
    sequence = next;
    const op = Atomics.load(control, OPCODE);
    if (op === OP_STOP) return;
    if (op === OP_READY) {
      countDone(control, workers);
      continue;
    }
    const command = readCommand(data.command);
    if (alone) {
      (data.sync.mode === 'local' ? localRounds : hogwildSteps)(alone, command);
      countDone(control, workers);
      continue;
    }
    const { count, lr, stepsBefore, weights } = command;
    net.weights = weights;
    for (let i = 0; i < count; i++) {
      const { lo, hi } = batchOf(command, i);
      const into = otherCopy(data.plan, net.weights);
      ruleOfStep(data.optimizer, data.schedule, lr, stepsBefore + i + 1, hi - lo, net.rule);
      writeResult(results, i, worker, workers, step(worker, lo, hi, into));
      net.weights = into; // what this step wrote, the next one reads
    }
    countDone(control, workers);
  }
}

/**
 * This worker's part of one step on samples order[lo..hi), in chunks of at most plan.chunk
 * samples, reading the parameters at net.weights and writing the ones net.rule makes of
 * them at `into`. Work is taken, not assigned: a worker takes pieces of its own share of the
 * samples (phase 1) and of the parameter blocks (phase 2), then of what is left of the
 * others' shares, so a slower core simply does less (see Shares).
 */
function step(worker: number, lo: number, hi: number, into: number): StepResult {
  const { control, sampleLoss } = data;
  const { workers, chunk, paramCount } = data.plan;
  const r: StepResult = { lossSum: 0, correct: 0, computeMs: 0, waitMs: 0, reduceMs: 0 };
  for (let start = lo; start < hi; start += chunk) {
    const n = Math.min(chunk, hi - start);
    const lastChunk = start + n >= hi;
    const t0 = performance.now();
    // Other workers have just updated their rows of the weights: fetch them in one sweep.
    // Only the step's last chunk changes the weights, so later chunks find them in place.
    if (workers > 1 && start === lo && n >= SWEEP_MIN_SHARE * workers) kernels.pull(net.weights, paramCount);
    for (samples.begin(n, Math.ceil(n / (PIECES_PER_WORKER * workers))); samples.next();) {
      r.correct += forwardBackward(net, data.train, data.order, start, samples.lo, samples.hi, sampleLoss);
    }
    if (start === lo && faultDue(data.faultHook, 1, worker, workers)) commitFault(data.faultHook!); // TEST HOOK, inert unless THREADGRAD_INJECT_FAULT is set
    const t1 = performance.now();
    // Phase 2 reads every sample's deltas. The counters are reset by the last worker in, after
    // the others have stopped taking from them and before any can reach the next chunk.
    if (barrier(control, workers, spin)) samples.reset();
    const t2 = performance.now();
    if (worker === 0) for (let p = 0; p < n; p++) r.lossSum += sampleLoss[p];
    const mode = !lastChunk ? ACCUMULATE : start === lo ? APPLY : APPLY_AND_CLEAR;
    for (rows.begin(blocks.length, 1); rows.next();) updateWeights(net, blocks[rows.lo], n, mode, into);
    if (lastChunk && faultDue(data.faultHook, 2, worker, workers)) commitFault(data.faultHook!); // TEST HOOK, as above
    const t3 = performance.now();
    // The next chunk's forward pass reads every row of the weights. A step counts once every
    // worker has written its rows: until then the copy it read is whole and it can run again.
    if (barrier(control, workers, spin)) {
      rows.reset();
      if (lastChunk) {
        Atomics.store(control, WEIGHTS, into);
        Atomics.add(control, STEPS_DONE, 1);
      }
    }
    r.computeMs += t1 - t0;
    r.reduceMs += t3 - t2;
    // The wait at the step's last barrier is left out: it overlaps the next step's start in
    // the other workers, and the coordinator's share is the step time no worker accounts for.
    r.waitMs += t2 - t1 + (lastChunk ? 0 : performance.now() - t3);
  }
  return r;
}

export function evaluate(task: EvalTask): EvalResult {
  const classes = shape.sizes[shape.sizes.length - 1];
  const confusion = new Int32Array(classes * classes);
  const evalNet = makeNet(shape, data.plan, kernels, f, task.worker, data.pixels);
  evalNet.weights = task.weights;
  const { lossSum, correct } = evaluateRange(evalNet, task.worker, data[task.split]!, task.lo, task.hi, confusion);
  return { lossSum, correct, confusion };
}
