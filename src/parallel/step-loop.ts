// The per-step hand-off without a message per step. Handing every worker's part of every
// step to Piscina as a task costs a message round trip per part on the coordinator's event loop
// (hundreds of microseconds, as long as a whole small step). Instead each pool thread runs
// one long `serve` task that waits on a shared word for a command: "run these steps". The
// workers then step on their own, meeting only each other at barriers, and the coordinator
// wakes once per command. Piscina still owns the threads: it starts them, replaces dead
// ones, and runs evaluation tasks while the loop is stopped.
import type { Piscina } from 'piscina';
import {
  DONE, MAX_STEPS_PER_COMMAND, OPCODE, OP_STEPS, OP_STOP, RESULT_FIELDS, SEQUENCE, STEPS_DONE, abortBarrier, resetBarrier,
  type ServeTask, type StepResult,
} from './protocol.js';

export interface StepsRun {
  /** One entry per completed step, each with one result per slot. */
  results: StepResult[][];
  /** Set when a thread failed: the steps after the completed ones did not happen. */
  error?: Error;
}

export class StepLoop {
  private serving: Promise<void>[] = [];
  /** Rejects as soon as any serve task fails, so a waiting command can give up. */
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
    this.failed.catch(() => {}); // observed by run(); never an unhandled rejection
  }

  /**
   * Run `count` SGD steps: step i takes samples order[first + i * batch ..] up to `batch`
   * of them, never past `end`. The first step reads the parameter copy at `params` and
   * each step writes the other copy (see ArenaPlan.paramsB), so after a failure the
   * completed steps stand, the copy the failed step read is whole, and the rest can be
   * run again.
   */
  async run(first: number, batch: number, end: number, count: number, lr: number, params: number): Promise<StepsRun> {
    if (count < 1 || count > MAX_STEPS_PER_COMMAND) throw new RangeError(`step count ${count} outside 1..${MAX_STEPS_PER_COMMAND}`);
    if (!this.running) this.start();
    this.command.set([first, batch, end, count, lr, params]);
    Atomics.store(this.control, STEPS_DONE, 0);
    this.publish(OP_STEPS);
    let error: Error | undefined;
    try {
      await this.allDone();
    } catch (e) {
      error = e instanceof Error ? e : new Error(String(e));
      await this.recover(); // after this, STEPS_DONE no longer moves
    }
    const completed = error ? Atomics.load(this.control, STEPS_DONE) : count;
    if (error) resetBarrier(this.control);
    return { results: Array.from({ length: completed }, (_, i) => this.resultsOf(i)), error };
  }

  /** End the serve tasks so the threads take ordinary tasks again. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.publish(OP_STOP);
    await Promise.allSettled(this.serving);
    this.serving = [];
  }

  private resultsOf(step: number): StepResult[] {
    return Array.from({ length: this.slots }, (_, slot) => {
      const at = (step * this.slots + slot) * RESULT_FIELDS;
      const r = this.results.subarray(at, at + RESULT_FIELDS);
      return { lossSum: r[0], correct: r[1], computeMs: r[2], waitMs: r[3], reduceMs: r[4] };
    });
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

  /** A thread failed: release the others from the barrier and end every serve task. */
  private async recover(): Promise<void> {
    abortBarrier(this.control);
    this.publish(OP_STOP);
    await Promise.allSettled(this.serving);
    this.serving = [];
  }
}
