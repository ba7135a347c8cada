// The C contenders: bench/c/*.c compiled at bench time with gcc (when it exists) and run as child
// processes that time their own loops and print JSON lines of samples (milliseconds per op).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The flags of the "C SSE" contender: 128-bit vectors like WebAssembly SIMD, no FMA. */
export const C_FLAGS = ['-O3', '-msse4.2', '-fno-math-errno'];

const SRC = fileURLToPath(new URL('../c/', import.meta.url));
/** Flags a program needs beyond C_FLAGS (threads.c and threads-sparse.c run pthreads). */
const PROGRAM_FLAGS = { threads: ['-pthread'], 'threads-sparse': ['-pthread'] };

/** Compiled C programs for one benchmark run (or the reason there are none). */
export class CPrograms {
  constructor() {
    /** @type {string | null} why the C contenders are skipped, or null when they run */
    this.skipped = null;
    /** @type {string | null} */
    this.compiler = null;
    this.dir = null;
    /** @type {Map<string, string>} program name -> path */
    this.bins = new Map();
    /** @type {'cpu' | 'wall'} the clock the programs time with (BENCH_CLOCK) */
    this.clock = 'wall';
  }

  /**
   * Compiles each named program (`bench/c/<name>.c`). Records a note instead of throwing when gcc
   * is missing or a compile fails.
   * @param {string[]} names
   */
  compile(names) {
    try {
      this.compiler = execFileSync('gcc', ['--version'], { encoding: 'utf8' }).split('\n')[0].trim();
    } catch {
      this.skipped = 'gcc not found: the C contenders were skipped';
      return this;
    }
    this.dir = mkdtempSync(join(tmpdir(), 'wasm-optim-bench-'));
    for (const name of names) {
      const out = join(this.dir, name);
      const r = spawnSync(
        'gcc',
        [...C_FLAGS, ...(PROGRAM_FLAGS[name] ?? []), '-o', out, join(SRC, `${name}.c`), '-lm'],
        { encoding: 'utf8' },
      );
      if (r.status !== 0) {
        this.skipped = `gcc failed on bench/c/${name}.c: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(0, 3).join(' ')}`;
        return this;
      }
      this.bins.set(name, out);
    }
    return this;
  }

  /**
   * Runs a compiled program; returns the parsed JSON lines it printed.
   * @param {string} name program
   * @param {string[]} args
   * @returns {any[]}
   */
  run(name, args) {
    const bin = this.bins.get(name);
    if (!bin) throw new Error(this.skipped ?? `C program ${name} was not compiled`);
    const env = { ...process.env, BENCH_CLOCK: this.clock };
    const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 64 << 20, env });
    if (r.status !== 0)
      throw new Error(`bench/c/${name} ${args.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || '').trim()}`);
    return r.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
  }

  /** Removes the compiled programs. */
  cleanup() {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }
}
