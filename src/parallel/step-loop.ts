// The per-step hand-off without a message per step. Handing every worker's part of every
// step to Piscina as a task costs a message round trip per part on the coordinator's event loop
// (hundreds of microseconds, as long as a whole small step). Instead each worker runs one
// long `serve` task that waits on a shared word for a command: "run these steps". The
// workers then step on their own, meeting only each other at barriers, and the coordinator
// wakes once per command. Piscina still owns the threads: it starts them, replaces dead
// ones, and runs evaluation tasks while the loop is stopped.
import type { Piscina } from 'piscina';
import {
  BATCHES, DONE, MAX_STEPS_PER_COMMAND, OPCODE, resultWords, OP_READY, OP_STEPS, OP_STOP, SEQUENCE, STEPS_DONE, WEIGHTS, abortBarrier, readResult, resetBarrier, writeCommand,
  type ServeTask, type StepResult, type StepsCommand,
} from './protocol.js';

export interface StepsRun {
  /** One entry per completed step, each with one result per worker. */
  results: StepResult[][];
  /** The copy of the parameters the last completed step wrote (the command's own when none did), as the workers recorded it. */
  weights: number;
  /** Set when a worker failed: the steps after the completed ones did not happen. */
  error?: Error;
}

export class StepLoop {
  private serving: Promise<void>[] = [];
  /** Rejects as soon as any serve task fails, so a waiting command can give up. */
  private failed: Promise<never> = new Promise(() => {});

  constructor(
    private readonly pool: Piscina,
    private readonly workers: number,
    private readonly control: Int32Array,
    private readonly command: Float64Array,
    private readonly results: Float64Array,
  ) {}

  get running(): boolean {
    return this.serving.length > 0;
  }

  start(): void {
    const sequence = Atomics.load(this.control, SEQUENCE);
    this.serving = Array.from({ length: this.workers }, (_, worker) => {
      const task: ServeTask = { worker, sequence };
      return this.pool.run(task, { name: 'serve' }) as Promise<void>;
    });
    this.failed = Promise.race(this.serving).then(() => {
      throw new Error('a serve task returned without being stopped');
    });
    this.failed.catch(() => {}); // observed by run(); never an unhandled rejection
  }

  /**
   * Run the command's steps. Each step writes the copy of the parameters its predecessor
   * did not (see ArenaPlan.copies), so after a failure the completed steps stand, the copy
   * the failed step read is whole, and the rest can be run again.
   */
  async run(command: StepsCommand): Promise<StepsRun> {
    const { count } = command;
    if (count < 1 || count > MAX_STEPS_PER_COMMAND) throw new RangeError(`step count ${count} outside 1..${MAX_STEPS_PER_COMMAND}`);
    if (!this.running) this.start();
    writeCommand(this.command, command);
    // A worker writes the results of the steps it takes; under local and hogwild those of the others' stay 0.
    this.results.fill(0, 0, resultWords(this.workers, count));
    Atomics.store(this.control, WEIGHTS, command.weights);
    Atomics.store(this.control, STEPS_DONE, 0);
    Atomics.store(this.control, BATCHES, 0);
    this.publish(OP_STEPS);
    let error: Error | undefined;
    try {
      await this.allDone();
    } catch (e) {
      error = e instanceof Error ? e : new Error(String(e));
      await this.recover(); // after this, STEPS_DONE no longer moves
    }
    const completed = error ? Atomics.load(this.control, STEPS_DONE) : count;
    const weights = Atomics.load(this.control, WEIGHTS);
    if (error) resetBarrier(this.control);
    return { results: Array.from({ length: completed }, (_, i) => this.resultsOf(i)), weights, error };
  }

  /**
   * Starts the serve tasks and returns once every worker is serving: its thread started,
   * its code loaded and its kernels compiled. A worker that fails on the way rejects it.
   */
  async ready(): Promise<void> {
    if (!this.running) this.start();
    this.publish(OP_READY);
    try {
      await this.allDone();
    } catch (e) {
      await this.recover();
      resetBarrier(this.control);
      throw e;
    }
  }

  /** End the serve tasks so the workers take ordinary tasks again. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.publish(OP_STOP);
    await Promise.allSettled(this.serving);
    this.serving = [];
  }

  private resultsOf(step: number): StepResult[] {
    return Array.from({ length: this.workers }, (_, worker) => readResult(this.results, step, worker, this.workers));
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
      if (done === this.workers) return;
      const wait = Atomics.waitAsync(this.control, DONE, done);
      if (wait.async) await Promise.race([wait.value, this.failed]);
    }
  }

  /** A worker failed: release the others from the barrier and end every serve task. */
  private async recover(): Promise<void> {
    abortBarrier(this.control);
    await this.stop();
  }
}
