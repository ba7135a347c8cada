// The live progress line: on a terminal, one line rewritten in place while a task runs, with every
// finished task printed above it; elsewhere (CI, pipes), one line per finished task.

const tty = Boolean(process.stderr.isTTY);

/** Formats milliseconds as m:ss. */
function clock(ms) {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** Progress over a known number of tasks. */
export class Progress {
  /**
   * @param {number} total number of tasks planned
   * @param {{ quiet?: boolean }} [options] quiet: print nothing (the smoke test)
   */
  constructor(total, options = {}) {
    this.total = total;
    this.done = 0;
    this.start = performance.now();
    this.quiet = Boolean(options.quiet);
    this.live = '';
  }

  /** Shows `name` as the task now running. */
  running(name) {
    if (this.quiet || !tty) return;
    this.live = `[${this.done + 1}/${this.total} ${clock(performance.now() - this.start)}] ${name} ...`;
    process.stderr.write(`\r\x1b[K${this.live}`);
  }

  /** Records a finished task and prints its one-line summary. */
  finished(line) {
    this.done++;
    if (this.quiet) return;
    const text = `[${this.done}/${this.total} ${clock(performance.now() - this.start)}] ${line}`;
    process.stderr.write(tty ? `\r\x1b[K${text}\n` : `${text}\n`);
  }

  /** Prints a note (a skipped contender, a compiler message) without disturbing the live line. */
  note(text) {
    if (this.quiet) return;
    process.stderr.write(tty ? `\r\x1b[K${text}\n` : `${text}\n`);
  }

  /** Clears the live line. */
  close() {
    if (!this.quiet && tty) process.stderr.write('\r\x1b[K');
  }
}
