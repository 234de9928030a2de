// A Piscina worker: attaches to the shared arena and data once at start-up, then runs
// `step` and `evaluate` tasks that carry only a slot number and a sample range.
import { workerData } from 'piscina';
import { paramSlice } from '../src/arena.js';
import { loadKernels } from '../src/kernel-loader.js';
import { modelShape } from '../src/model.js';
import { evaluateRange, trainShard, type Net } from '../src/pass.js';
import { barrier, type EvalResult, type EvalTask, type StepResult, type StepTask, type WorkerData } from '../src/protocol.js';
import { CLASSES } from '../src/mnist.js';

const data = workerData as WorkerData;
const f = new Float32Array(data.memory.buffer);
const net: Net = {
  shape: modelShape(data.hidden),
  plan: data.plan,
  kernels: await loadKernels(data.kernels, data.memory, f),
  f,
};

export function step(task: StepTask): StepResult {
  const t0 = performance.now();
  const { lossSum, correct } = trainShard(net, task.slot, data.train, data.order, task.lo, task.hi);
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
