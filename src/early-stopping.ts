// Stopping at the plateau: after every epoch the validation figure is compared with the
// best so far; the best epoch's weights are kept, and after `patience` epochs without an
// improvement of at least minDelta the run ends and those weights are what it returns.
// The test set never enters: what decides must not be what reports.

export type Monitor = 'val-loss' | 'val-acc';

/** What a checkpoint keeps of it, so that a resumed run stops where an unbroken one would. */
export interface EarlyState {
  /** The best epoch so far, 0 before the first. */
  bestEpoch: number;
  /** Its figure: the validation loss, or the validation accuracy. */
  best: number;
  /** Epochs since the best one. */
  badEpochs: number;
}

export class EarlyStopping {
  /** A copy of the best epoch's weights, once there is one. */
  bestParams: Float32Array | undefined;

  constructor(
    readonly monitor: Monitor,
    readonly patience: number,
    private readonly minDelta: number,
    public state: EarlyState = { bestEpoch: 0, best: NaN, badEpochs: 0 },
    bestParams?: Float32Array,
  ) {
    this.bestParams = bestParams?.length ? bestParams : undefined;
  }

  /** Takes the epoch's figures; keeps a copy of the weights when they are the best yet. True if they are. */
  update(epoch: number, val: { loss: number; accuracy: number }, params: Float32Array): boolean {
    const figure = this.monitor === 'val-loss' ? val.loss : val.accuracy;
    const s = this.state;
    const improved = s.bestEpoch === 0 || (this.monitor === 'val-loss' ? figure < s.best - this.minDelta : figure > s.best + this.minDelta);
    if (improved) {
      this.state = { bestEpoch: epoch, best: figure, badEpochs: 0 };
      this.bestParams = params.slice();
    } else {
      this.state = { ...s, badEpochs: s.badEpochs + 1 };
    }
    return improved;
  }

  /** The plateau is reached: `patience` epochs in a row brought no improvement. */
  get plateau(): boolean {
    return this.patience > 0 && this.state.badEpochs >= this.patience;
  }

  /** Why the run ends here, in words: "validation loss no better for 5 epochs". */
  get reason(): string {
    return `validation ${this.monitor === 'val-loss' ? 'loss' : 'accuracy'} no better for ${this.state.badEpochs} epochs`;
  }
}
