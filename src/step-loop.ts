// The per-step hand-off without a message per task. Handing every shard of every step to
// Piscina as a task costs a message round trip per shard on the coordinator's event loop
// (hundreds of microseconds per step, as long as a whole small step). Instead each pool
// thread runs one long `serve` task that waits on a shared word for the next step; the
// coordinator publishes a step by bumping that word and wakes when the last shard counts
// itself done. Piscina still owns the threads: it starts them, replaces dead ones, and
// runs evaluation tasks while the loop is stopped.
import type { Piscina } from 'piscina';
import {
  DONE, OPCODE, OP_STEP, OP_STOP, RESULT_FIELDS, SEQUENCE, abortBarrier, resetBarrier,
  type ServeTask, type StepResult,
} from './protocol.js';

export class StepLoop {
  private serving: Promise<void>[] = [];
  /** Rejects as soon as any serve task fails, so a waiting step can give up. */
  private failed: Promise<never> = new Promise(() => {});

  constructor(
    private readonly pool: Piscina,
    private readonly slots: number,
    private readonly control: Int32Array,
    private readonly command: Float64Array,
    private readonly results: Float64Array,
  ) {}

  get running(): boolean {
    return this.serving.length > 0;
  }

  start(): void {
    const sequence = Atomics.load(this.control, SEQUENCE);
    this.serving = Array.from({ length: this.slots }, (_, slot) => {
      const task: ServeTask = { slot, sequence };
      return this.pool.run(task, { name: 'serve' }) as Promise<void>;
    });
    this.failed = Promise.race(this.serving).then(() => {
      throw new Error('a step-loop thread returned without being stopped');
    });
    this.failed.catch(() => {}); // observed by step(); never an unhandled rejection
  }

  /** Run one step's shards on every thread and return each slot's result. */
  async step(lo: number, hi: number, scale: number): Promise<StepResult[]> {
    if (!this.running) this.start();
    this.command[0] = lo;
    this.command[1] = hi;
    this.command[2] = scale;
    this.publish(OP_STEP);
    try {
      await this.allDone();
    } catch (error) {
      await this.recover();
      throw error;
    }
    return Array.from({ length: this.slots }, (_, slot) => {
      const r = this.results.subarray(slot * RESULT_FIELDS, (slot + 1) * RESULT_FIELDS);
      return { lossSum: r[0], correct: r[1], computeMs: r[2], waitMs: r[3], reduceMs: r[4] };
    });
  }

  /** End the serve tasks so the threads take ordinary tasks again. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.publish(OP_STOP);
    await Promise.allSettled(this.serving);
    this.serving = [];
  }

  private publish(opcode: number): void {
    Atomics.store(this.control, DONE, 0);
    Atomics.store(this.control, OPCODE, opcode);
    Atomics.add(this.control, SEQUENCE, 1);
    Atomics.notify(this.control, SEQUENCE);
  }

  private async allDone(): Promise<void> {
    for (;;) {
      const done = Atomics.load(this.control, DONE);
      if (done === this.slots) return;
      const wait = Atomics.waitAsync(this.control, DONE, done);
      if (wait.async) await Promise.race([wait.value, this.failed]);
    }
  }

  /** A thread failed mid-step: release the others from the barrier, end every serve task, start clean. */
  private async recover(): Promise<void> {
    abortBarrier(this.control);
    this.publish(OP_STOP);
    await Promise.allSettled(this.serving);
    this.serving = [];
    resetBarrier(this.control);
  }
}
