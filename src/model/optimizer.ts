// How a step turns gradients into new weights: the optimizers (SGD, momentum, Nesterov,
// Adam, AdamW) with their hyperparameters, and the learning-rate schedules. The rules
// themselves are stated plainly in src/reference.ts (optimizerStep) and applied, row by row,
// by the kernels (Kernels.updateRows); this module holds what both agree on: the names, how
// much state each optimizer keeps per parameter, the learning rate of every step, and the
// numbers a step hands to the kernels (their record is kernels/update-rule.ts).
import { RULE_ADAM, RULE_ADAMW, RULE_MOMENTUM, RULE_NESTEROV, RULE_PLAIN, RULE_SGD, type UpdateRule } from '../kernels/update-rule.js';

export const OPTIMIZERS = ['sgd', 'momentum', 'nesterov', 'adam', 'adamw'] as const;
export type OptimizerKind = (typeof OPTIMIZERS)[number];
export const SCHEDULES = ['constant', 'step', 'cosine', 'one-cycle'] as const;
export type ScheduleKind = (typeof SCHEDULES)[number];

export interface OptimizerSpec {
  kind: OptimizerKind;
  /** momentum, nesterov: v = momentum * v + g. */
  momentum: number;
  /** adam, adamw: the decay of the first and second moment estimates, and the denominator's epsilon. */
  beta1: number;
  beta2: number;
  eps: number;
  /** L2 penalty added to the gradient (sgd, momentum, nesterov, adam), or decoupled decay of the weights (adamw). */
  weightDecay: number;
}

export const PLAIN_SGD: OptimizerSpec = { kind: 'sgd', momentum: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

/** Floats of state each parameter carries: the velocity, or Adam's two moments. */
export function stateSlots(kind: OptimizerKind): number {
  return kind === 'sgd' ? 0 : kind === 'momentum' || kind === 'nesterov' ? 1 : 2;
}

export interface ScheduleSpec {
  kind: ScheduleKind;
  /** Steps the run plans (epochs x steps per epoch): cosine and one-cycle end there. */
  totalSteps: number;
  /** Linear warm-up from 0 over this many steps (constant, step, cosine; one-cycle has its own). */
  warmupSteps: number;
  /** step: the rate is multiplied by gamma every stepSize steps. */
  stepSize: number;
  gamma: number;
}

export const CONSTANT: ScheduleSpec = { kind: 'constant', totalSteps: 1, warmupSteps: 0, stepSize: 1, gamma: 1 };

/** OneCycleLR's defaults in PyTorch: the rise takes 30% of the run, from lr/25, and the fall ends at lr/25/1e4. */
const ONE_CYCLE = { pctStart: 0.3, divFactor: 25, finalDivFactor: 1e4 };

/**
 * The learning rate of step t (counting from 1) for a base rate `lr`, as PyTorch's schedulers
 * stepped once per batch give it: warm-up lr * t / W on steps 1..W; then constant lr;
 * step: lr * gamma^floor((t - W - 1) / stepSize); cosine: lr * (1 + cos(pi * t' / T')) / 2
 * with t' = t - W - 1 and T' = total - W; one-cycle: OneCycleLR(max_lr = lr), cosine both ways.
 */
export function lrAt(s: ScheduleSpec, lr: number, t: number): number {
  if (s.kind === 'one-cycle') {
    const i = t - 1;
    const initial = lr / ONE_CYCLE.divFactor;
    const final = initial / ONE_CYCLE.finalDivFactor;
    const upEnd = ONE_CYCLE.pctStart * s.totalSteps - 1;
    const [start, end, pct] = i <= upEnd ? [initial, lr, i / upEnd] : [lr, final, (i - upEnd) / (s.totalSteps - 1 - upEnd)];
    return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
  }
  const w = s.warmupSteps;
  if (t <= w) return (lr * t) / w;
  if (s.kind === 'constant') return lr;
  const done = t - w - 1;
  if (s.kind === 'step') return lr * s.gamma ** Math.floor(done / s.stepSize);
  return lr * 0.5 * (1 + Math.cos((Math.PI * done) / (s.totalSteps - w)));
}

/** Fills `into` for step t (counting from 1) of a run with base rate lr, over a batch of `samples`. */
export function ruleOfStep(opt: OptimizerSpec, schedule: ScheduleSpec, lr: number, t: number, samples: number, into: UpdateRule): void {
  const lrT = lrAt(schedule, lr, t);
  into.rule = ruleCode(opt);
  into.scale = lrT / samples;
  into.gscale = 1 / samples;
  into.lr = lrT;
  into.momentum = opt.momentum;
  into.weightDecay = opt.weightDecay;
  into.beta1 = opt.beta1;
  into.beta2 = opt.beta2;
  into.eps = opt.eps;
  into.stepSize = lrT / (1 - opt.beta1 ** t);
  into.invSqrtBias2 = 1 / Math.sqrt(1 - opt.beta2 ** t);
}

function ruleCode(opt: OptimizerSpec): number {
  switch (opt.kind) {
    case 'sgd':
      return opt.weightDecay === 0 ? RULE_PLAIN : RULE_SGD;
    case 'momentum':
      return RULE_MOMENTUM;
    case 'nesterov':
      return RULE_NESTEROV;
    case 'adam':
      return RULE_ADAM;
    case 'adamw':
      return RULE_ADAMW;
  }
}
