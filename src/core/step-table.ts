// What one step's kernel walks: the descriptor table (per param: its tensors' offsets, length and
// hyper block, S.DESC_* of ./abi.ts) and the hyper blocks of the param cohorts (params of one group
// added at the same step share t, so they share a block). Built when params, groups or options
// change; the blocks are written before every step, whole the first time and then only the slots
// that move with lr, t and the gradient scale (`stepOnly` of the declaration's writer).

import { SLOT as S } from './abi.js';
import type { AnyDeclaration, HyperWriter, StepSeries } from './declaration.js';
import type { Engine } from './engine.js';
import type { Param } from './param.js';
import type { StateStorage } from './state-type.js';

const HYPER_BYTES = S.HYPER_SLOTS * 4;
const DESC_WORDS = S.DESC_BYTES / 4;

/** Writes one cohort's hyper block: slot `i` at float index `base + i` of the current heap. */
class BlockWriter implements HyperWriter {
  base = 0;
  f: Float32Array = new Float32Array(0);
  i: Int32Array = new Int32Array(0);
  f32(slot: number, value: number): void {
    this.f[this.base + slot] = value;
  }
  flag(slot: number, on: boolean): void {
    this.i[this.base + slot] = on ? 1 : 0;
  }
}

/** @internal A dense optimizer's descriptor table and hyper blocks, in its engine's memory. */
export class StepTable {
  /** The table's address (0 before the first build). */
  table = 0;
  private capacity = 0;
  private hyper = 0;
  private hyperCapacity = 0;
  private cohorts: { group: number; birth: number }[] = [];
  /**
   * Per cohort, read by every step: its group's options (the objects themselves: a group's rate
   * changes in place, anything else only with a rebuild), its birth step, and +1 or -1 for
   * `maximize`. Plain arrays of one kind each, so that the step's reads stay monomorphic whatever
   * the optimizer's options look like.
   */
  private opts: { readonly lr: number }[] = [];
  private births: number[] = [];
  private signs: number[] = [];
  /**
   * Per cohort: the declaration's `steadyFrom`, and the step, rate and gradient scale of the block
   * it holds. A step whose block would be the same (both steps steady, same rate and scale) skips
   * the writer.
   */
  private steady: number[] = [];
  private written = new Float64Array(0);
  private rates = new Float64Array(0);
  private scales = new Float64Array(0);
  /** One writer reused every step: no allocation on the step path (it shows on small tensors). */
  private readonly writer = new BlockWriter();
  /**
   * True once the blocks hold a whole block for the current cohorts and options: a step then
   * writes only what moves from step to step. A build (new params, groups or options) clears it.
   */
  private whole = false;
  /** The state storage of the last build, when its state is stored in 16 or 8 bits. */
  private storage: StateStorage | null = null;
  /** The clamp bounds the blocks hold (written again only when they change). */
  private lo = NaN;
  private hi = NaN;
  /**
   * The last write changed nothing (every cohort steady, same rate and scale as its block, no
   * 16/8-bit state) and left the clamp bounds open, at step `quietSteps` with gradient scale
   * `quietScale` (NaN when it was not such a write): a later step with the same scale and rates
   * would change nothing either (`holds`), so the step skips the write.
   */
  private quietSteps = 0;
  private quietScale = NaN;

  constructor(private readonly engine: Engine) {}

  /**
   * Lays the table out for `params`: `slotsOf[g][s]` is the tensor index (2 + the state's place)
   * that kernel state slot `s` of a param in group `g` points at, or -1 for an unused slot.
   * `storage` (state stored in 16 or 8 bits) gives each descriptor's reserved word and the hyper
   * blocks' QUANT_* slots.
   */
  build(
    decl: AnyDeclaration,
    params: readonly Param[],
    slotsOf: readonly (readonly number[])[],
    groups: readonly { readonly opts: { readonly lr: number; readonly maximize: boolean } }[],
    storage?: StateStorage,
  ): void {
    const cohorts: { group: number; birth: number }[] = [];
    const cohortOf = (p: Param): number => {
      let i = cohorts.findIndex((c) => c.group === p.group && c.birth === p.birth);
      if (i < 0) i = cohorts.push({ group: p.group, birth: p.birth }) - 1;
      return i;
    };
    const ids = params.map(cohortOf);
    const engine = this.engine;
    if (params.length > this.capacity) {
      const cap = Math.max(8, params.length * 2);
      const t = engine.alloc(cap * S.DESC_BYTES);
      if (this.table) engine.free(this.table);
      this.table = t;
      this.capacity = cap;
    }
    if (cohorts.length > this.hyperCapacity) {
      const cap = Math.max(2, cohorts.length * 2);
      const h = engine.alloc(cap * HYPER_BYTES);
      if (this.hyper) engine.free(this.hyper);
      this.hyper = h;
      this.hyperCapacity = cap;
    }
    this.cohorts = cohorts;
    this.opts = cohorts.map((c) => groups[c.group].opts);
    this.births = cohorts.map((c) => c.birth);
    this.signs = cohorts.map((c) => (groups[c.group].opts.maximize ? -1 : 1));
    this.steady = cohorts.map((c) => (decl.steadyFrom ? decl.steadyFrom(groups[c.group].opts) : Infinity));
    this.written = new Float64Array(cohorts.length).fill(NaN);
    this.rates = new Float64Array(cohorts.length);
    this.scales = new Float64Array(cohorts.length);
    const u32 = engine.heapU32;
    params.forEach((p, i) => {
      const slotOf = slotsOf[p.group];
      const base = (this.table >>> 2) + i * DESC_WORDS;
      u32[base + S.DESC_PARAM] = p.offset(0);
      u32[base + S.DESC_GRAD] = p.offset(1);
      for (let s = 0; s < 3; s++) u32[base + S.DESC_STATE0 + s] = slotOf[s] >= 0 ? p.offset(slotOf[s]) : 0;
      u32[base + S.DESC_LENGTH] = p.length;
      u32[base + S.DESC_HYPER] = this.hyper + ids[i] * HYPER_BYTES;
      u32[base + S.QUANT_DESC_WORD] = storage ? storage.descWord(p, i, slotOf) : 0;
    });
    this.storage = storage ?? null;
    this.whole = false;
    this.quietScale = NaN;
    this.writer.f = engine.heapF32;
    this.writer.i = engine.heapI32;
  }

  /**
   * Writes every cohort's hyper block for the coming step (the optimizer's completed `steps`):
   * the declaration's slots for its group's options, the gradient scale (sign flipped for
   * `maximize`) and the clamp bounds.
   */
  write(decl: AnyDeclaration, series: StepSeries, steps: number, scale: number, lo: number, hi: number): void {
    const w = this.writer;
    // The views of the last build stay right until a memory that is not shared grows (which
    // detaches its buffer: length 0); a shared memory's old buffer still covers every block.
    if (w.f.length === 0) this.views();
    const opts = this.opts;
    const births = this.births;
    const signs = this.signs;
    const steady = this.steady;
    const written = this.written;
    const rates = this.rates;
    const scales = this.scales;
    // After the first whole write, only the slots that move with lr, t and the scale (and the clamp
    // bounds when they change): most of a block is constant, and writing it showed on small tensors.
    const stepOnly = this.whole;
    const bounds = !stepOnly || lo !== this.lo || hi !== this.hi;
    const first = this.hyper >>> 2;
    let quiet = stepOnly && this.storage === null;
    for (let k = 0; k < opts.length; k++) {
      const o = opts[k];
      const t = steps + 1 - births[k];
      const s = signs[k] * scale;
      w.base = first + k * S.HYPER_SLOTS;
      if (!(stepOnly && written[k] >= steady[k] && t >= steady[k] && o.lr === rates[k] && s === scales[k])) {
        quiet = false;
        decl.writeHyper(w, o, t, s, series, stepOnly);
        written[k] = t;
        rates[k] = o.lr;
        scales[k] = s;
      }
      // Out of line (the usual step has neither): write() stays small enough for V8 to inline it
      // with the declaration's writer (Adam, 16 floats: 5-9% slower when it did not).
      if (bounds || this.storage !== null) this.extras(w.base, t, bounds, lo, hi);
    }
    this.whole = true;
    this.quietSteps = steps;
    // One comparison in `holds` for "quiet, with open bounds and this scale".
    this.quietScale = quiet && lo === -Infinity && hi === Infinity ? scale : NaN;
    this.lo = lo;
    this.hi = hi;
  }

  /** The writer's views of the current memory (after a growth detached the old buffer). */
  private views(): void {
    this.writer.f = this.engine.heapF32;
    this.writer.i = this.engine.heapI32;
  }

  /** A block's 16/8-bit state slots for step `t` (with such state) and its clamp bounds (when they changed). */
  private extras(base: number, t: number, bounds: boolean, lo: number, hi: number): void {
    if (this.storage) this.storage.writeHyper(this.engine.heapU32, base, t);
    if (bounds) {
      this.writer.f[base + S.CLIP_LO] = lo;
      this.writer.f[base + S.CLIP_HI] = hi;
    }
  }

  /**
   * Whether the blocks already hold what `write(decl, series, steps, scale, -Infinity, Infinity)`
   * would write (it would change nothing): the last write was quiet, no step went back since, the
   * scale and every cohort's rate are those of its blocks, and the bounds are open. The usual step
   * of an optimizer with `steadyFrom` (SGD, RMSprop, ...) then skips the write, whose loop showed on
   * small tensors (SGD, 16 floats: about a third of the step).
   */
  holds(steps: number, scale: number): boolean {
    if (scale !== this.quietScale || steps < this.quietSteps) return false;
    const opts = this.opts;
    // One cohort (the usual optimizer) without the loop: 2 ns of a 16-float SGD step's 37.
    if (opts.length === 1) return opts[0].lr === this.rates[0];
    const rates = this.rates;
    for (let k = 0; k < opts.length; k++) if (opts[k].lr !== rates[k]) return false;
    return true;
  }

  /**
   * `holds(steps, 1)` for the usual step, without reading the groups' rates: the last write was
   * quiet with scale 1 and open bounds, no step went back since, and no rate was set since
   * (`ratesMoved`). The rates live in each optimizer's options objects, whose shapes differ per
   * optimizer: reading `lr` there is a megamorphic load once a process steps several kinds
   * (16-float SGD step +28 ns). A schedule moves rates without `ratesMoved`: the usual step
   * leaves scheduled groups to `holds`.
   */
  settled(steps: number): boolean {
    return this.quietScale === 1 && steps >= this.quietSteps;
  }

  /** A group's rate is about to be set (not by a schedule): the next usual step writes the blocks. */
  ratesMoved(): void {
    this.quietScale = NaN;
  }

  /** Frees the table and the blocks. */
  release(): void {
    if (this.table) this.engine.free(this.table);
    if (this.hyper) this.engine.free(this.hyper);
    this.table = this.hyper = this.capacity = this.hyperCapacity = 0;
  }
}
