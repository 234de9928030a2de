// A one-line progress indicator for a terminal, redrawn in place at most every 100 ms.
// Off when stderr is not a terminal, so logs piped to a file stay clean JSON lines.

/** The indicator on screen now, if any: a log line must erase it first (see clearStatusLine). */
let onScreen: Progress | undefined;

export class Progress {
  private last = 0;
  private shown = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, private readonly enabled = Boolean(stream.isTTY)) {}

  update(done: number, total: number, detail: string): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.last < 100 && done < total) return;
    this.last = now;
    const width = 30;
    const filled = Math.round((width * done) / total);
    const bar = '#'.repeat(filled) + '.'.repeat(width - filled);
    this.stream.write(`\r\x1b[K[${bar}] ${((100 * done) / total).toFixed(0).padStart(3)}% ${detail}`);
    this.shown = true;
    onScreen = this;
  }

  /** Erase the line before anything else is written to the terminal. */
  clear(): void {
    if (!this.shown) return;
    this.stream.write('\r\x1b[K');
    this.shown = false;
    onScreen = undefined;
  }
}

/** Erase whatever indicator is on screen, so that the next line starts at the left edge; the next update draws it again. */
export function clearStatusLine(): void {
  onScreen?.clear();
}
