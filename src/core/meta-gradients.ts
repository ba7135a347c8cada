// Meta-gradients: forward-mode tangents dθ/dh and d(state)/dh of a dense optimizer with respect to
// its own scalar hyperparameters h, kept in engine memory and updated by the chain rule in the same
// wasm pass as the step (assembly/meta/), and dL_val/dh = Σ ∇θL_val · dθ/dh from them
// (docs/meta-gradients.md derives the recurrences). The optimizer (./optimizer.ts) calls this module
// with a few lines: track, check a step's options, run the fused kernel, save and load the tangents.

import { SLOT as S } from './abi.js';
import type { AnyDeclaration, HyperWriter, MetaDeclaration } from './declaration.js';
import type { Engine } from './engine.js';
import { checkChoice, checkKnownKeys, checkNumber, describe } from './options.js';
import { Param } from './param.js';
import type { Schedule } from './schedules.js';
import { firstNonFinite } from './limits.js';

/**
 * How a tracked step treats the gradient's own dependence on h (the gradient is a function of θ,
 * and θ depends on h):
 * - `'first-order'`: ignored (dg/dh taken as 0, as first-order MAML). Cheapest; an approximation.
 * - `'hvp'`: exact. Each `step({ hvp })` gets the user's Hessian-vector product H·(dθ/dh).
 * - `'finite-difference'`: each `step({ gradFn })` evaluates the gradient at θ ± ε·dθ/dh
 *   (central, or forward from the current gradient); exact to O(ε²) (O(ε) forward) plus rounding.
 */
export type MetaGradientMode = 'first-order' | 'hvp' | 'finite-difference';

/** Options of `trackMetaGradients`. */
export interface MetaGradientOptions {
  /** How the gradient's dependence on h is treated (see `MetaGradientMode`). Default `'first-order'`. */
  mode?: MetaGradientMode;
  /**
   * `'finite-difference'` mode: the step along each tangent t is `fdEpsilon · max(1, max|θ|) / max|t|`
   * (relative, so that θ + ε t stays representable in float32). Default 1e-3.
   */
  fdEpsilon?: number;
  /** `'finite-difference'` mode: `'central'` (two gradient calls per tangent, default) or `'forward'` (one; uses `p.grad` as g(θ)). */
  fdScheme?: 'central' | 'forward';
}

/**
 * A Hessian-vector product for `step({ hvp })`: given a tangent (one Float32Array per param, in
 * the order of `opt.params`), returns H·tangent per param, H the Hessian of the loss whose gradient
 * is in `p.grad`. Called once per tracked hyperparameter per step. The arrays passed are copies.
 */
export type HessianVectorProduct = (tangent: Float32Array[]) => readonly ArrayLike<number>[];

/**
 * The gradient at other params for `step({ gradFn })`: given param values (one Float32Array per
 * param), returns the gradient there per param (the same function whose value at θ is in
 * `p.grad`). It must not change the params or the gradients.
 */
export type GradientFunction = (params: Float32Array[]) => readonly ArrayLike<number>[];

/** The step options a tracked step takes (part of `StepOptions`). */
export interface MetaStepOptions {
  /** `'hvp'` mode: the Hessian-vector product of this step (see `HessianVectorProduct`). */
  hvp?: HessianVectorProduct;
  /** `'finite-difference'` mode: the gradient function of this step (see `GradientFunction`). */
  gradFn?: GradientFunction;
}

/** What a state dict carries of the tracking: its configuration and every tangent. */
export interface MetaGradientState {
  /** The tracked hyperparameters, in order. */
  names: string[];
  /** The mode. */
  mode: MetaGradientMode;
  /** Finite-difference step (relative). */
  fdEpsilon: number;
  /** Finite-difference scheme. */
  fdScheme: 'central' | 'forward';
  /**
   * Per param, per tracked name: `param` (dθ/dh) and each state tensor's tangent by the state's
   * name (`exp_avg`, ...).
   */
  tangents: Record<string, Record<string, Float32Array>>[];
}

/** @internal What the tracker reads of its optimizer. */
export interface MetaHost {
  readonly kind: string;
  readonly engine: Engine;
  readonly params: readonly Param[];
  readonly stepCount: number;
  /** Its param groups (src/core/param-groups.ts): tracking needs one, at a fixed rate. */
  readonly groups: {
    readonly groupCount: number;
    groupSchedule(index: number): Schedule | null;
    groupOptionsLive(index: number): Readonly<Record<string, unknown>>;
  };
}

const MODES = ['first-order', 'hvp', 'finite-difference'] as const;
const same = (_i: number, _j: number, x: number): number => x;
const HYPER_BYTES = S.META_HYPER_SLOTS * 4;
const STREAM_GAP = 320;

/** Writes a block of f32 slots at float index `base` of the engine heap. */
class Writer implements HyperWriter {
  base = 0;
  constructor(private readonly f: Float32Array) {}
  f32(slot: number, value: number): void {
    this.f[this.base + slot] = value;
  }
  flag(slot: number, on: boolean): void {
    this.f[this.base + slot] = on ? 1 : 0;
  }
}

/** The checked configuration of `trackMetaGradients(names, options)`. */
function checkSpec(
  what: string,
  kind: string,
  decl: MetaDeclaration<unknown>,
  names: unknown,
  options: unknown,
): Omit<MetaGradientState, 'tangents'> {
  if (!Array.isArray(names) || names.length === 0)
    throw new TypeError(
      `${what}: expected a non-empty array of hyperparameter names (${kind} has ${decl.names.join(', ')}), got ${describe(names)}`,
    );
  const seen = new Set<string>();
  for (const n of names) {
    if (typeof n !== 'string' || !decl.names.includes(n))
      throw new RangeError(
        `${what}: ${kind} has no hyperparameter ${typeof n === 'string' ? `'${n}'` : describe(n)} to track; it has ${decl.names.join(', ')}`,
      );
    if (seen.has(n)) throw new RangeError(`${what}: '${n}' is named twice; name each hyperparameter once`);
    seen.add(n);
  }
  const o = (options ?? {}) as MetaGradientOptions;
  if (options !== undefined) checkKnownKeys(what, o, ['mode', 'fdEpsilon', 'fdScheme']);
  return {
    names: names.slice() as string[],
    mode: checkChoice(what, 'mode', o.mode ?? 'first-order', MODES),
    fdEpsilon: checkNumber(what, 'fdEpsilon', o.fdEpsilon ?? 1e-3, { min: 0, minExclusive: true }),
    fdScheme: checkChoice(what, 'fdScheme', o.fdScheme ?? 'central', ['central', 'forward'] as const),
  };
}

/** Throws unless the optimizer, as it is now (or with `opts` and `births` from a state dict), can be tracked. */
function checkSupported(
  what: string,
  host: MetaHost,
  decl: MetaDeclaration<unknown> | undefined,
  spec: Omit<MetaGradientState, 'tangents'>,
  opts: Readonly<Record<string, unknown>>,
  births: readonly number[],
  stepCount: number,
): asserts decl is MetaDeclaration<unknown> {
  const kind = host.kind;
  if (!decl)
    throw new TypeError(`${what}: ${kind} has no meta-gradient kernel; use Adam, AdamW, SGD, RMSprop or Adagrad`);
  if (host.groups.groupCount > 1)
    throw new RangeError(
      `${what}: meta-gradients need a single param group (this ${kind} has ${host.groups.groupCount}); give every param the same options`,
    );
  if (host.groups.groupSchedule(0) !== null)
    throw new RangeError(
      `${what}: meta-gradients do not follow an lr schedule; set a number (opt.lr = value) and change it between steps yourself`,
    );
  if (opts.clipGradNorm !== null || opts.clipGradValue !== null)
    throw new RangeError(
      `${what}: meta-gradients do not differentiate gradient clipping; create the ${kind} without clipGradNorm and clipGradValue`,
    );
  if (births.length === 0) throw new RangeError(`${what}: this ${kind} has no params; add them first`);
  if (births.some((b) => b !== births[0]))
    throw new RangeError(
      `${what}: meta-gradients need params that were all added at the same step (they share one step count); add every param before the first step`,
    );
  for (const n of spec.names) {
    const why = decl.refuse?.(opts, n, stepCount);
    if (why) throw new RangeError(`${what}: cannot track '${n}': ${why}`);
  }
}

/**
 * @internal The tangents of one optimizer: per param one engine block holding, for each tracked
 * hyperparameter k, `slots` tensors (dθ/dh_k, then each state's tangent by kernel slot) and, unless
 * first-order, the gradient tangent H·dθ/dh_k; a meta table (one descriptor per param) and the
 * per-hyperparameter blocks of scalar derivatives.
 */
export class MetaTracker {
  private readonly blocks: number[] = [];
  private table = 0;
  private hyper = 0;
  private readonly stride: number[];
  private readonly slots: number;
  /** The name of each tangent slot: 'param', then the state in each kernel slot (null: unused). */
  private readonly slotNames: (string | null)[];
  private disposed = false;

  private constructor(
    private readonly host: MetaHost,
    private readonly decl: MetaDeclaration<unknown>,
    readonly spec: Omit<MetaGradientState, 'tangents'>,
    opts: Readonly<Record<string, unknown>>,
    layout: readonly (string | null)[],
  ) {
    const e = host.engine;
    const K = spec.names.length;
    this.slots = decl.slots(opts);
    this.slotNames = ['param', ...layout.slice(0, this.slots - 1)];
    // Tensors of a block start 320 bytes (five cache lines) beyond a whole stride apart, so that the
    // kernel's many streams (up to 13 with three tracked names) do not all map to the same L1 sets.
    this.stride = host.params.map((p) => Param.strideFor(p.length) + STREAM_GAP);
    const hv = spec.mode === 'first-order' ? 0 : 1;
    try {
      for (const s of this.stride) this.blocks.push(e.alloc(K * (this.slots + hv) * s));
      this.table = e.alloc(host.params.length * S.META_DESC_BYTES);
      this.hyper = e.alloc(K * HYPER_BYTES);
    } catch (err) {
      this.dispose();
      throw err;
    }
    const u32 = e.heapU32;
    host.params.forEach((_p, i) => {
      const base = this.descWord(i);
      const span = K * this.slots * this.stride[i];
      u32[base + S.META_TANGENTS] = this.blocks[i];
      u32[base + S.META_HVP] = hv ? this.blocks[i] + span : 0;
      u32[base + S.META_STRIDE] = this.stride[i];
      u32[base + S.META_COUNT] = K;
      u32[base + S.META_HYPER] = this.hyper;
      u32[base + S.META_SLOTS] = this.slots;
    });
    let zeroMoments = true;
    if (decl.initTangent) {
      spec.names.forEach((n, k) => {
        for (let s = 1; s < this.slots; s++) {
          const v = decl.initTangent!(n, s);
          if (v !== 0) {
            zeroMoments = false;
            host.params.forEach((p, i) => this.view(i, k, s).fill(v));
          }
        }
      });
    }
    host.params.forEach((_p, i) => this.setZeroMoments(i, zeroMoments));
  }

  /** Marks param `i`'s state tangents as all +0 (or not): META_ZERO_MOMENTS (assembly/meta/layout.ts). */
  private setZeroMoments(i: number, zero: boolean): void {
    this.host.engine.heapU32[this.descWord(i) + S.META_ZERO_MOMENTS] = zero ? 1 : 0;
  }

  /** The heap index (u32) of param `i`'s meta descriptor. */
  private descWord(i: number): number {
    return (this.table >>> 2) + i * (S.META_DESC_BYTES / 4);
  }

  /** True when every state tangent of param `i` is +0 in every bit. */
  private momentsAreZero(i: number): boolean {
    for (let k = 0; k < this.spec.names.length; k++)
      for (let s = 1; s < this.slots; s++) {
        const v = this.view(i, k, s);
        const bits = new Uint32Array(v.buffer, v.byteOffset, v.length);
        for (let j = 0; j < bits.length; j++) if (bits[j] !== 0) return false;
      }
    return true;
  }

  /** Starts tracking `names` on `host` (checked; nothing changes on error). */
  static track(host: MetaHost, od: AnyDeclaration, names: unknown, options: unknown): MetaTracker {
    const decl = od.meta as MetaDeclaration<unknown> | undefined;
    const what = `${host.kind}.trackMetaGradients`;
    if (!decl)
      throw new TypeError(
        `${what}: ${host.kind} has no meta-gradient kernel; use Adam, AdamW, SGD, RMSprop or Adagrad`,
      );
    const spec = checkSpec(what, host.kind, decl, names, options);
    const opts = host.groups.groupOptionsLive(0);
    checkSupported(
      what,
      host,
      decl,
      spec,
      opts,
      host.params.map((p) => p.birth),
      host.stepCount,
    );
    return new MetaTracker(host, decl, spec, opts, od.stateLayout(opts));
  }

  /** A view of tangent slot `slot` of hyperparameter `k` of param `i` (valid until memory grows). */
  private view(i: number, k: number, slot: number): Float32Array {
    const p = this.host.params[i];
    return this.host.engine.f32(this.blocks[i] + (k * this.slots + slot) * this.stride[i], p.length);
  }

  /** A view of the gradient tangent of hyperparameter `k` of param `i`. */
  private hvView(i: number, k: number): Float32Array {
    const p = this.host.params[i];
    const span = this.spec.names.length * this.slots * this.stride[i];
    return this.host.engine.f32(this.blocks[i] + span + k * this.stride[i], p.length);
  }

  /** Throws (before anything changes) unless `options` suit this step. */
  checkStep(options: MetaStepOptions | undefined): void {
    const host = this.host;
    const what = `${host.kind}.step`;
    const { mode } = this.spec;
    const need = mode === 'hvp' ? 'hvp' : mode === 'finite-difference' ? 'gradFn' : null;
    for (const k of ['hvp', 'gradFn'] as const) {
      const f = options?.[k];
      if (f === undefined) continue;
      if (k !== need)
        throw new TypeError(
          `${what}: option '${k}' is for ${k === 'hvp' ? "'hvp'" : "'finite-difference'"} mode, but meta-gradients are tracked in '${mode}' mode; leave it out or call trackMetaGradients with that mode`,
        );
      if (typeof f !== 'function') throw new TypeError(`${what}: option '${k}' must be a function, got ${describe(f)}`);
    }
    if (need !== null && options?.[need] === undefined)
      throw new TypeError(
        `${what}: meta-gradients are tracked in '${mode}' mode, which needs step({ ${need} }) at every step (${need === 'hvp' ? 'v => H·v per param' : 'params => the gradient there per param'}); nothing was changed`,
      );
    if (host.params.length !== this.stride.length)
      throw new RangeError(
        `${what}: params were added after trackMetaGradients(); call trackMetaGradients() again (the tangents restart at zero) or untrackMetaGradients()`,
      );
    checkSupported(
      what,
      host,
      this.decl,
      this.spec,
      host.groups.groupOptionsLive(0),
      host.params.map((p) => p.birth),
      0,
    );
  }

  /** The tangent of each param for hyperparameter `k`, as copies. */
  private tangentCopies(k: number): Float32Array[] {
    return this.host.params.map((_p, i) => this.view(i, k, 0).slice());
  }

  /** Checks a callback's result (one array per param of its length, finite numbers) and writes it as HV `k`. */
  private storeHv(k: number, got: unknown, name: string, combine: (i: number, j: number, x: number) => number): void {
    const params = this.host.params;
    const what = `${this.host.kind}.step`;
    if (!Array.isArray(got) || got.length !== params.length)
      throw new TypeError(
        `${what}: ${name} must return one array per param (${params.length}), got ${describe(got)}; nothing was changed`,
      );
    got.forEach((a: unknown, i) => {
      const arr = a as ArrayLike<number> | null;
      if (arr === null || typeof arr !== 'object' || arr.length !== params[i].length)
        throw new TypeError(
          `${what}: ${name} returned ${describe(a)} for param #${i}; expected ${params[i].length} numbers; nothing was changed`,
        );
    });
    // Copied into engine scratch (only this step's kernel reads it), then checked there by one SIMD
    // pass: a value that is not a finite number throws before the kernel runs.
    const e = this.host.engine;
    (got as ArrayLike<number>[]).forEach((arr, i) => {
      const out = this.hvView(i, k);
      if (combine === same) out.set(arr);
      else for (let j = 0; j < out.length; j++) out[j] = combine(i, j, arr[j]);
      if (e.exports.hasNonFinite(out.byteOffset, out.length)) {
        const bad = firstNonFinite(out);
        throw new RangeError(
          `${what}: ${name} returned ${typeof arr[bad] === 'number' ? arr[bad] : describe(arr[bad])} at [${bad}] of param #${i}${combine === same ? '' : ' (or a difference of its values overflowed)'}; values must be finite numbers; nothing was changed`,
        );
      }
    });
  }

  /** The tangents of the gradient for this step (hvp or finite differences) into the HV tensors. */
  private gradientTangents(options: MetaStepOptions | undefined): void {
    const { mode, names, fdEpsilon, fdScheme } = this.spec;
    const params = this.host.params;
    if (mode === 'hvp') {
      for (let k = 0; k < names.length; k++) this.storeHv(k, options!.hvp!(this.tangentCopies(k)), 'hvp', same);
      return;
    }
    if (mode !== 'finite-difference') return;
    const gradFn = options!.gradFn!;
    let thetaMax = 1;
    for (const p of params) for (const x of p.data) thetaMax = Math.max(thetaMax, Math.abs(x));
    for (let k = 0; k < names.length; k++) {
      const t = this.tangentCopies(k);
      let tMax = 0;
      for (const a of t) for (const x of a) tMax = Math.max(tMax, Math.abs(x));
      if (tMax === 0) {
        params.forEach((_p, i) => this.hvView(i, k).fill(0));
        continue;
      }
      const eps = (fdEpsilon * thetaMax) / tMax;
      const at = (sign: number): Float32Array[] =>
        params.map((p, i) => {
          const d = p.data;
          const out = new Float32Array(p.length);
          for (let j = 0; j < out.length; j++) out[j] = d[j] + sign * eps * t[i][j];
          return out;
        });
      const plus = gradFn(at(1));
      if (fdScheme === 'central') {
        const minus = gradFn(at(-1));
        this.storeHv(k, minus, 'gradFn', same);
        // HV now holds g(θ - εt): combine in float64 with g(θ + εt).
        const lo = params.map((_p, i) => Float64Array.from(this.hvView(i, k)));
        this.storeHv(k, plus, 'gradFn', (i, j, x) => (x - lo[i][j]) / (2 * eps));
      } else {
        const g0 = params.map((p) => Float64Array.from(p.grad));
        this.storeHv(k, plus, 'gradFn', (i, j, x) => (x - g0[i][j]) / eps);
      }
    }
  }

  /** Runs one tracked step: the gradient tangents, the scalar derivatives, then the fused kernel. */
  step(table: number, count: number, options: MetaStepOptions | undefined): void {
    const host = this.host;
    this.gradientTangents(options);
    const opts = host.groups.groupOptionsLive(0);
    const t = host.stepCount + 1 - host.params[0].birth;
    const w = new Writer(host.engine.heapF32);
    this.spec.names.forEach((n, k) => {
      w.base = (this.hyper >>> 2) + k * S.META_HYPER_SLOTS;
      for (let s = 0; s < S.META_HYPER_SLOTS; s++) w.f32(s, 0);
      this.decl.writeHyper(w, opts, t, n);
    });
    host.engine.exports[this.decl.kernel](table, this.table, count);
  }

  /** dL/dh for each tracked h: Σ valGrad · dθ/dh over every param, in float64. */
  metaGradient(valGrads: readonly ArrayLike<number>[] | undefined): Record<string, number> {
    const params = this.host.params;
    const what = `${this.host.kind}.metaGradient`;
    if (params.length !== this.stride.length)
      throw new RangeError(
        `${what}: params were added after trackMetaGradients(); call trackMetaGradients() again (the tangents restart at zero)`,
      );
    if (valGrads !== undefined) {
      if (!Array.isArray(valGrads) || valGrads.length !== params.length)
        throw new TypeError(
          `${what}: expected one gradient array per param (${params.length}), got ${describe(valGrads)}; or pass nothing to use p.grad`,
        );
      valGrads.forEach((a: ArrayLike<number> | null, i) => {
        if (a === null || typeof a !== 'object' || a.length !== params[i].length)
          throw new TypeError(
            `${what}: the gradient of param #${i} is ${describe(a)}; expected ${params[i].length} numbers`,
          );
      });
    }
    const out: Record<string, number> = {};
    this.spec.names.forEach((n, k) => {
      let sum = 0;
      params.forEach((p, i) => {
        const g = valGrads ? valGrads[i] : p.grad;
        const t = this.view(i, k, 0);
        for (let j = 0; j < t.length; j++) sum += g[j] * t[j];
      });
      out[n] = sum;
    });
    return out;
  }

  /** The tracking for a state dict: configuration and copies of every tangent. */
  state(): MetaGradientState {
    const { names } = this.spec;
    return {
      ...this.spec,
      names: names.slice(),
      tangents: this.host.params.map((_p, i) =>
        Object.fromEntries(
          names.map((n, k) => [
            n,
            Object.fromEntries(
              this.slotNames.flatMap((sn, s) => (sn === null ? [] : [[sn, this.view(i, k, s).slice()]])),
            ),
          ]),
        ),
      ),
    };
  }

  /**
   * Checks a state dict's tracking against this optimizer and prepares it (allocating, before
   * anything changes). Returns what `commit` installs, or `undefined` to keep the tracker as it is.
   */
  static prepareLoad(
    host: MetaHost,
    od: AnyDeclaration,
    current: MetaTracker | null,
    dict: {
      metaGradients?: MetaGradientState;
      params: readonly { length: number; step: number }[];
      stepCount: number;
    },
    opts: Readonly<Record<string, unknown>>,
    what: string,
  ): { commit(): MetaTracker | null } | undefined {
    const decl = od.meta as MetaDeclaration<unknown> | undefined;
    const layout = od.stateLayout(opts);
    const m = dict.metaGradients;
    if (m === undefined) {
      if (current === null) return undefined;
      throw new RangeError(
        `${what}: the state dict carries no meta-gradient tangents but this ${host.kind} tracks [${current.spec.names.join(', ')}]; call untrackMetaGradients() first, or load a state dict saved while tracking`,
      );
    }
    if (m === null || typeof m !== 'object')
      throw new TypeError(`${what}: 'metaGradients' must be an object, got ${describe(m)}`);
    const mdecl = decl;
    if (!mdecl) throw new TypeError(`${what}: the state dict tracks meta-gradients, which ${host.kind} has not`);
    const spec = checkSpec(what, host.kind, mdecl, m.names, {
      mode: m.mode,
      fdEpsilon: m.fdEpsilon,
      fdScheme: m.fdScheme,
    });
    if (
      current !== null &&
      (current.spec.names.join() !== spec.names.join() ||
        current.spec.mode !== spec.mode ||
        current.spec.fdEpsilon !== spec.fdEpsilon ||
        current.spec.fdScheme !== spec.fdScheme)
    )
      throw new RangeError(
        `${what}: the state dict tracks [${spec.names.join(', ')}] in '${spec.mode}' mode, this ${host.kind} [${current.spec.names.join(', ')}] in '${current.spec.mode}' mode; call untrackMetaGradients() (or trackMetaGradients with the dict's names and mode) first`,
      );
    // A dict without params (a fresh optimizer's first pass): nothing to hold tangents yet.
    if (dict.params.length === 0) return undefined;
    checkSupported(
      what,
      host,
      mdecl,
      spec,
      opts,
      dict.params.map((p) => dict.stepCount - p.step),
      0,
    );
    const slots = mdecl.slots(opts);
    const slotNames = ['param', ...layout.slice(0, slots - 1)];
    if (!Array.isArray(m.tangents) || m.tangents.length !== dict.params.length)
      throw new RangeError(
        `${what}: the state dict's metaGradients.tangents must hold one entry per param (${dict.params.length})`,
      );
    m.tangents.forEach((pt, i) => {
      for (const n of spec.names) {
        const entry = (pt as Record<string, Record<string, Float32Array>> | null)?.[n];
        for (const sn of slotNames) {
          if (sn === null) continue;
          const a = entry?.[sn];
          if (!a || a.length !== dict.params[i].length)
            throw new RangeError(
              `${what}: param #${i}'s tangent '${sn}' for '${n}' is missing or has the wrong length in the state dict`,
            );
          const bad = firstNonFinite(a);
          if (bad >= 0)
            throw new RangeError(
              `${what}: param #${i}'s tangent '${sn}' for '${n}'[${bad}] is ${a[bad]}; tangents must be finite`,
            );
        }
      }
    });
    return {
      commit(): MetaTracker {
        current?.dispose();
        const t = new MetaTracker(host, mdecl, spec, opts, layout);
        spec.names.forEach((n, k) =>
          host.params.forEach((_p, i) =>
            slotNames.forEach((sn, s) => {
              if (sn !== null) t.view(i, k, s).set(m.tangents[i][n][sn]);
            }),
          ),
        );
        host.params.forEach((_p, i) => t.setZeroMoments(i, t.momentsAreZero(i)));
        return t;
      },
    };
  }

  /** Frees the tangents (idempotent). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const e = this.host.engine;
    for (const b of this.blocks) e.free(b);
    this.blocks.length = 0;
    if (this.table) e.free(this.table);
    if (this.hyper) e.free(this.hyper);
    this.table = this.hyper = 0;
  }
}

/** @internal Throws (before anything changes) unless a step's `hvp`/`gradFn` suit the tracking. */
export function checkMetaStep(tracker: MetaTracker | null, kind: string, options: MetaStepOptions | undefined): void {
  if (tracker) return tracker.checkStep(options);
  // Untracked (every plain step): two property reads, no array or iterator.
  if (options === undefined) return;
  const k = options.hvp !== undefined ? 'hvp' : options.gradFn !== undefined ? 'gradFn' : null;
  if (k !== null)
    throw new TypeError(
      `${kind}.step: option '${k}' is for meta-gradients, which are not tracked; call trackMetaGradients() first or leave it out`,
    );
}
