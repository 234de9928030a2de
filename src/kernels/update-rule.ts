// The record of one step's update that the kernels read (ts and wasm alike): which rule, and
// its numbers for this step. model/optimizer.ts fills it from the optimizer and schedule.

/** The rule codes the kernels switch on (see assembly/rows.ts). */
export const RULE_PLAIN = 0; // sgd without weight decay: W' = W - scale * g, no state
export const RULE_SGD = 1;
export const RULE_MOMENTUM = 2;
export const RULE_NESTEROV = 3;
export const RULE_ADAM = 4;
export const RULE_ADAMW = 5;

/**
 * The numbers one step hands to the kernels for its update. g is the sum over the batch of
 * the loss gradients, so the mean gradient is g * gscale.
 */
export interface UpdateRule {
  rule: number;
  /** RULE_PLAIN: lr / batch, applied to g as it is (the rounding of the plain rule stays the same). */
  scale: number;
  gscale: number;
  /** This step's learning rate. */
  lr: number;
  momentum: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** adam, adamw: lr / (1 - beta1^t) and 1 / sqrt(1 - beta2^t), the bias corrections folded in. */
  stepSize: number;
  invSqrtBias2: number;
}

export function emptyRule(): UpdateRule {
  return { rule: RULE_PLAIN, scale: 0, gscale: 0, lr: 0, momentum: 0, weightDecay: 0, beta1: 0, beta2: 0, eps: 0, stepSize: 0, invSqrtBias2: 0 };
}
