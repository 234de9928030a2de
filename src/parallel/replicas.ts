// --sync local:K and hogwild, the worker's side (sync.ts says what they are): each worker
// runs whole steps on batches of its own (pass.ts stepAlone), in a chunk buffer of its own
// (ArenaPlan.replicas), instead of sharing every batch with the others.
//
// Local SGD: the batches of a command come in rounds of K x workers; in a round, worker w
// takes batches w, w + workers, w + 2 x workers, ... (K of them) and trains its replica of
// the weights and optimizer state, copied from the shared copy at the round's start. Then
// the workers average the replicas, each a share of the floats, into the other copy, which
// the next round starts from. The copy read stays whole until the round is counted, so a
// round whose worker failed can run again from it, as a step can in step mode.
//
// Hogwild: workers take the command's batches one at a time from a shared counter and
// update the one copy of the weights in place, reading it while others write it.
import { type Net, type RowBlock, stepAlone } from './pass.js';
import { otherCopy } from './arena.js';
import { ruleOfStep } from '../model/optimizer.js';
import { BATCHES, STEPS_DONE, WEIGHTS, barrier, batchOf, shareOf, writeResult, type StepResult, type StepsCommand, type WorkerData } from './protocol.js';
import { commitFault, faultDue } from './fault-hook.js';
import { roundOf } from './sync.js';

export interface Trainer {
  data: WorkerData;
  worker: number;
  /** The worker's net over its replica's buffers (replicaPlan). */
  net: Net;
  f: Float32Array;
  blocks: RowBlock[];
  /** A loss per sample of a chunk. */
  losses: Float64Array;
  /** Polls at a barrier before sleeping (protocol.ts barrierPolls). */
  spin: number;
}

/** The command's batches by local SGD, round after round (see the top of this file). */
export function localRounds(t: Trainer, cmd: StepsCommand): void {
  const { data, worker, net, f } = t;
  const { control, plan } = data;
  const workers = plan.workers;
  const round = roundOf(data.sync, workers);
  const replica = plan.replicas[worker].weights;
  const floats = (1 + plan.stateSlots) * plan.paramCount;
  let shared = cmd.weights;
  for (let r0 = 0; r0 < cmd.count; r0 += round) {
    const batches = Math.min(round, cmd.count - r0);
    f.copyWithin(replica, shared, shared + floats);
    net.weights = replica;
    for (let j = r0 + worker; j < r0 + batches; j += workers) {
      const r = trainBatch(t, cmd, j);
      if (faultDue(data.faultHook, 1, worker, workers)) commitFault(data.faultHook!); // TEST HOOK, inert unless THREADGRAD_INJECT_FAULT is set
      writeResult(data.results, j, worker, workers, r);
    }
    // Every replica is trained before any is read; the average is whole before the next round copies it.
    barrier(control, workers, t.spin);
    const into = otherCopy(plan, shared);
    average(t, Math.min(workers, batches), into, floats);
    if (faultDue(data.faultHook, 2, worker, workers)) commitFault(data.faultHook!); // TEST HOOK, as above
    if (barrier(control, workers, t.spin)) {
      Atomics.store(control, WEIGHTS, into);
      Atomics.add(control, STEPS_DONE, batches);
    }
    shared = into;
  }
}

/**
 * This worker's share of the floats of the average of the first `replicas` replicas
 * (weights and optimizer state), into the copy at `into`: summed in float64 in worker
 * order from the first replica's value (so that one replica averages to itself, -0 too),
 * then divided once.
 */
function average(t: Trainer, replicas: number, into: number, floats: number): void {
  const { f, data, worker } = t;
  const at = data.plan.replicas.slice(0, replicas).map((r) => r.weights);
  const [lo, hi] = shareOf(worker, data.plan.workers, floats);
  // The first two cases compute what the loop does, only faster.
  if (replicas === 1) f.copyWithin(into + lo, at[0] + lo, at[0] + hi);
  else if (replicas === 2) for (let i = lo, a = at[0], b = at[1]; i < hi; i++) f[into + i] = (f[a + i] + f[b + i]) / 2;
  else {
    for (let i = lo; i < hi; i++) {
      let sum = f[at[0] + i];
      for (let w = 1; w < replicas; w++) sum += f[at[w] + i];
      f[into + i] = sum / replicas;
    }
  }
}

/**
 * The command's batches by Hogwild: taken one at a time, applied in place to the one shared
 * copy. A batch counts in STEPS_DONE once taken: a worker that fails leaves its batch in
 * whatever state its update reached (there is no copy to go back to), the others train the
 * rest, and a retry goes on after the batches taken, so that no batch is applied twice.
 */
export function hogwildSteps(t: Trainer, cmd: StepsCommand): void {
  const { data, worker, net } = t;
  const { control, plan } = data;
  net.weights = cmd.weights;
  for (let j = Atomics.add(control, BATCHES, 1); j < cmd.count; j = Atomics.add(control, BATCHES, 1)) {
    Atomics.add(control, STEPS_DONE, 1);
    const r = trainBatch(t, cmd, j);
    if (faultDue(data.faultHook, 1, worker, plan.workers)) commitFault(data.faultHook!); // TEST HOOK, as above
    writeResult(data.results, j, worker, plan.workers, r);
  }
}

/** Batch j of the command, one step on net.weights; the rule's step count is the batch's in the run, as in step mode. */
function trainBatch(t: Trainer, cmd: StepsCommand, j: number): StepResult {
  const { data, net } = t;
  const { lo, hi } = batchOf(cmd, j);
  ruleOfStep(data.optimizer, data.schedule, cmd.lr, cmd.stepsBefore + j + 1, hi - lo, net.rule);
  const t0 = performance.now();
  const { lossSum, correct } = stepAlone(net, data.train, data.order, lo, hi, t.losses, t.blocks);
  return { lossSum, correct, computeMs: performance.now() - t0, waitMs: 0, reduceMs: 0 };
}
