// A Piscina worker: attaches to the shared arena and data once at start-up, then runs
// either the step loop (`serve`, one long task per thread that runs whole sequences of
// steps, see src/step-loop.ts) or `evaluate` tasks that carry only a slot number and a
// sample range.
import { workerData } from 'piscina';
import { paramSlice, shardRange } from '../src/arena.js';
import { loadKernels } from '../src/kernel-loader.js';
import { modelShape } from '../src/model.js';
import { evaluateRange, trainShard, type Net } from '../src/pass.js';
import {
  DONE, OPCODE, OP_STOP, RESULT_FIELDS, SEQUENCE, STEPS_DONE, barrier,
  type EvalResult, type EvalTask, type ServeTask, type StepResult, type StepTask, type WorkerData,
} from '../src/protocol.js';
import { CLASSES } from '../src/mnist.js';
import { maybeCommitFault } from '../src/fault-hook.js';

const data = workerData as WorkerData;
const f = new Float32Array(data.memory.buffer);
const net: Net = {
  shape: modelShape(data.hidden),
  plan: data.plan,
  kernels: await loadKernels(data.kernels, data.memory, f),
  f,
};

/** Runs every run of steps the coordinator publishes until it publishes OP_STOP. */
export function serve({ slot, sequence }: ServeTask): void {
  const { control, command, results } = data;
  const shards = net.plan.slotCount;
  for (;;) {
    Atomics.wait(control, SEQUENCE, sequence);
    const next = Atomics.load(control, SEQUENCE);
    if (next === sequence) continue;
    sequence = next;
    if (Atomics.load(control, OPCODE) === OP_STOP) return;
    const [first, batch, end, count, lr] = command;
    for (let i = 0; i < count; i++) {
      const lo = first + i * batch;
      const hi = Math.min(end, lo + batch);
      const [a, b] = shardRange(slot, shards, hi - lo);
      const r = step({ slot, lo: lo + a, hi: lo + b, scale: lr / (hi - lo) });
      results.set([r.lossSum, r.correct, r.computeMs, r.waitMs, r.reduceMs], (i * shards + slot) * RESULT_FIELDS);
      // The next forward pass reads every slice of the weights: wait until all are updated.
      if (barrier(control, shards)) Atomics.add(control, STEPS_DONE, 1);
    }
    if (Atomics.add(control, DONE, 1) === shards - 1) Atomics.notify(control, DONE);
  }
}

/** Forward + backward of one shard into its gradient slot, then, once every shard is in, SGD on this slot's parameter slice. */
function step(task: StepTask): StepResult {
  const t0 = performance.now();
  const { lossSum, correct } = trainShard(net, task.slot, data.train, data.order, task.lo, task.hi);
  maybeCommitFault(data.faultHook, task.slot, net.plan.slotCount); // TEST HOOK, inert unless THREADGRAD_INJECT_FAULT is set
  const t1 = performance.now();
  barrier(data.control, net.plan.slotCount);
  const t2 = performance.now();
  const [lo, hi] = paramSlice(task.slot, net.plan.slotCount, net.plan.paramCount);
  net.kernels.reduceApply(net.plan.params, net.plan.gradSlots, lo, hi, task.scale);
  const t3 = performance.now();
  return { lossSum, correct, computeMs: t1 - t0, waitMs: t2 - t1, reduceMs: t3 - t2 };
}

export function evaluate(task: EvalTask): EvalResult {
  const confusion = new Int32Array(CLASSES * CLASSES);
  const { lossSum, correct } = evaluateRange(net, task.slot, data[task.split], task.lo, task.hi, confusion);
  return { lossSum, correct, confusion };
}
