// The TensorFlow.js optimizer bridge: `wasmOptimizer(kind, options)` is a `tf.Optimizer` whose
// updates are one of the engine's dense optimizers. Each tfjs variable becomes an engine param the
// first time a gradient for it arrives (its values copied once); every step copies each gradient
// into engine memory once, runs the whole update in one call into wasm, and writes each variable
// back once (`variable.assign` of a fresh tensor holding a copy). State is keyed by variable name,
// saved with `getWeights()` (so `model.save(..., { includeOptimizer: true })` keeps it) and
// restored by `setWeights()`.

import * as tf from '@tensorflow/tfjs-core';
import { NonFiniteGradientError, OPTIMIZERS } from '../index.js';
import type {
  BaseOptions,
  Engine,
  GroupOptions,
  OptimizerStateDict,
  Optimizer as EngineOptimizer,
  Param,
  Schedule,
} from '../index.js';
import { copyInto, sameShape, tensorFrom } from './tensor-io.js';
import {
  META_VERSION,
  baseName,
  describe,
  escapeRegExp,
  fromConfigOptions,
  hideUnderscores,
  toConfigValue,
  type Binding,
  type Meta,
  type Pending,
} from './bridge-state.js';

/** A dense optimizer's class name: `'Adam'`, `'AdamW'`, `'SGD'`, ... (every class of the `OPTIMIZERS` registry). */
export type WasmOptimizerKind = keyof typeof OPTIMIZERS;

/** The options of each dense optimizer `wasmOptimizer` can wrap, by its class name (its constructor's options). */
export type WasmOptimizerOptionsByKind = {
  [K in WasmOptimizerKind]: NonNullable<ConstructorParameters<(typeof OPTIMIZERS)[K]>[0]>;
};

/**
 * A param group chosen by variable name: the variables whose name `match` selects (a RegExp, or a
 * string that the name must contain) take this group's options; options it leaves out are the
 * optimizer's. The first group that matches wins; unmatched variables are in group 0.
 * E.g. `{ match: /bias|gamma|beta/, weightDecay: 0 }`.
 */
export type WasmParamGroup<O> = GroupOptions<O> & { match: RegExp | string };

/** `wasmOptimizer`'s options: the dense class's options, plus `groups`. */
export type WasmOptimizerOptions<K extends WasmOptimizerKind = WasmOptimizerKind> = WasmOptimizerOptionsByKind[K] & {
  /** Param groups chosen by variable name (first match wins). */
  groups?: WasmParamGroup<WasmOptimizerOptionsByKind[K]>[];
};

/** A named tensor, as tfjs optimizers take and return them. */
type NamedTensor = { name: string; tensor: tf.Tensor };

type AnyEngineOptimizer = EngineOptimizer<BaseOptions>;
type Ctor = new (options: Record<string, unknown>) => AnyEngineOptimizer;

/** The dense classes by name: the package's registry, so that a new optimizer joins the bridge by itself. */
const KINDS = OPTIMIZERS as unknown as Record<WasmOptimizerKind, Ctor>;

/** The name of the weight that carries the optimizer's bookkeeping (JSON in a string scalar). */
export const META_WEIGHT = 'wasm_optim/meta';
/**
 * A `tf.Optimizer` whose update is one of wasm-optim's dense optimizers (create it with
 * `wasmOptimizer(kind, options)`). Use it wherever tfjs takes an optimizer: `model.compile`,
 * `optimizer.minimize(f)`, `optimizer.applyGradients(grads)` (a `{ [variableName]: gradient }` map
 * or an array of `{ name, tensor }`).
 *
 * - Each variable becomes an engine param at its first gradient; its state is kept by its name.
 *   Variables must be float32 `tf.Variable`s that keep their shape.
 * - A step copies each gradient into engine memory once and writes each variable back once
 *   (`variable.assign` of a new tensor holding a copy: engine memory never backs a tensor).
 * - A variable changed outside the optimizer (`model.setWeights`, `assign`) is read back before
 *   the next step.
 * - A variable absent from a step (no gradient) is not updated and its step count does not advance
 *   (PyTorch's rule for a param without `.grad`).
 * - `getWeights()` / `setWeights()` carry the whole state (step counts, learning rates, schedules'
 *   positions, every state tensor by variable name), so `model.save` with `includeOptimizer` and
 *   a reload continue training exactly. The class is registered with `tf.serialization`.
 */
export class WasmOptimizer extends tf.Optimizer {
  /** tfjs serialization name. */
  static readonly className = 'WasmOptimizer';
  /** The dense optimizer's class name (`'Adam'`, ...). */
  readonly kind: WasmOptimizerKind;
  /** The engine optimizer doing the updates (its `lr`, `paramGroups`, `stepCount`, ... are live). */
  readonly engineOptimizer: AnyEngineOptimizer;
  private readonly given: Record<string, unknown>;
  private readonly groupSpecs: { match: RegExp; options: Record<string, unknown> }[];
  private readonly bindings = new Map<string, Binding>();
  private readonly order: Binding[] = [];
  private pending = new Map<string, Pending>();
  private lastWeights: tf.Tensor[] = [];
  private disposedFlag = false;

  /** Prefer `wasmOptimizer(kind, options)`. */
  constructor(kind: WasmOptimizerKind | string, options: WasmOptimizerOptions = {} as WasmOptimizerOptions) {
    super();
    const canonical = (Object.keys(KINDS) as WasmOptimizerKind[]).find(
      (k) => typeof kind === 'string' && k.toLowerCase() === kind.toLowerCase(),
    );
    if (canonical === undefined) {
      throw new TypeError(`wasmOptimizer: unknown kind ${describe(kind)}; use one of ${Object.keys(KINDS).join(', ')}`);
    }
    this.kind = canonical;
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new TypeError(
        `wasmOptimizer(${canonical}): options must be an object, got ${describe(options)} (e.g. { lr: 1e-3 })`,
      );
    }
    const { groups, ...rest } = options as WasmOptimizerOptions & Record<string, unknown>;
    if (groups !== undefined && !Array.isArray(groups))
      throw new TypeError(
        `wasmOptimizer(${canonical}): option 'groups' must be an array of { match, ...options }, got ${describe(groups)}`,
      );
    this.groupSpecs = (groups ?? []).map((g, i) => {
      if (g === null || typeof g !== 'object')
        throw new TypeError(
          `wasmOptimizer(${canonical}): groups[${i}] must be an object { match, ...options }, got ${describe(g)}`,
        );
      const { match, ...own } = g as { match: unknown } & Record<string, unknown>;
      let re: RegExp;
      if (match instanceof RegExp) re = new RegExp(match.source, match.flags.replace(/[gy]/g, ''));
      else if (typeof match === 'string' && match.length > 0) re = new RegExp(escapeRegExp(match));
      else
        throw new TypeError(
          `wasmOptimizer(${canonical}): groups[${i}].match must be a RegExp or a non-empty string (part of a variable name), got ${describe(match)}`,
        );
      return { match: re, options: own };
    });
    this.given = { ...rest };
    const opt = new KINDS[canonical](rest as Record<string, unknown>);
    try {
      for (const g of this.groupSpecs) opt.addParamGroup(g.options as never);
    } catch (e) {
      opt.dispose();
      throw e;
    }
    this.engineOptimizer = opt;
  }

  /** The engine this optimizer lives in. */
  get engine(): Engine {
    return this.engineOptimizer.engine;
  }

  /** The learning rate of the next step (group 0). */
  get lr(): number {
    return this.engineOptimizer.lr;
  }

  /** Sets every group's learning rate (a number or a schedule), as `Optimizer.lr`. */
  set lr(value: number | Schedule) {
    this.engineOptimizer.lr = value;
  }

  /** Steps taken (the engine optimizer's `stepCount`). */
  override get iterations(): number {
    return this.engineOptimizer.isDisposed ? this.iterations_ : this.engineOptimizer.stepCount;
  }

  /** Names of the variables this optimizer holds state for, in the order they first stepped. */
  get variableNames(): string[] {
    return this.order.map((b) => b.name);
  }

  /** The engine param of a variable (by variable or name), or undefined before its first step. */
  paramOf(variable: tf.Variable | string): Param | undefined {
    return this.bindings.get(typeof variable === 'string' ? variable : variable.name)?.param;
  }

  /** The index of the param group a variable name falls in (first matching `groups` entry + 1, else 0). */
  groupOf(name: string): number {
    const i = this.groupSpecs.findIndex((g) => g.match.test(name));
    return i + 1;
  }

  private what(method: string): string {
    return `wasmOptimizer(${this.kind}).${method}`;
  }

  private checkAlive(method: string): void {
    if (this.disposedFlag || this.engineOptimizer.isDisposed)
      throw new Error(`${this.what(method)}: this optimizer was disposed; create a new one`);
  }

  /**
   * One step: `variableGradients` maps variable names to gradients (or lists `{ name, tensor }`).
   * Everything is checked before anything changes: an unknown name, a non-float32 variable or
   * gradient, or a shape unlike the variable's (or unlike the shape it had at its first step)
   * throws an error naming the variable.
   */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    this.checkAlive('applyGradients');
    const what = this.what('applyGradients');
    const items: { name: string; grad: tf.Tensor }[] = [];
    if (Array.isArray(variableGradients)) {
      variableGradients.forEach((e, i) => {
        if (e === null || typeof e !== 'object' || typeof e.name !== 'string')
          throw new TypeError(
            `${what}: entry [${i}] must be { name, tensor } with a variable's name, got ${describe(e)}`,
          );
        if (e.tensor != null) items.push({ name: e.name, grad: e.tensor });
      });
    } else if (variableGradients !== null && typeof variableGradients === 'object') {
      for (const [name, grad] of Object.entries(variableGradients)) if (grad != null) items.push({ name, grad });
    } else {
      throw new TypeError(
        `${what}: expected { [variableName]: gradient } or [{ name, tensor }], got ${describe(variableGradients)}`,
      );
    }
    // Check everything first.
    const registered = tf.engine().registeredVariables;
    const seen = new Set<string>();
    const fresh: { name: string; variable: tf.Variable; pending: Pending | undefined }[] = [];
    const claimed = new Set<string>();
    for (const { name, grad } of items) {
      if (seen.has(name)) throw new TypeError(`${what}: variable '${name}' has two gradients in one step`);
      seen.add(name);
      const variable = registered[name];
      if (!(variable instanceof tf.Variable)) {
        throw new TypeError(
          `${what}: '${name}' is not the name of a tf.Variable (none is registered under it); pass gradients keyed by variable name, as tf.variableGrads() returns them`,
        );
      }
      if (variable.isDisposed) throw new TypeError(`${what}: variable '${name}' was disposed`);
      if (variable.dtype !== 'float32')
        throw new TypeError(
          `${what}: variable '${name}' is ${variable.dtype}; the optimizer updates float32 variables only (create it with dtype 'float32')`,
        );
      if (!(grad instanceof tf.Tensor))
        throw new TypeError(`${what}: the gradient of variable '${name}' is ${describe(grad)}, not a tf.Tensor`);
      if (grad.isDisposed) throw new TypeError(`${what}: the gradient of variable '${name}' was disposed`);
      if (grad.dtype !== 'float32')
        throw new TypeError(
          `${what}: the gradient of variable '${name}' is ${grad.dtype}; it must be float32 like the variable`,
        );
      if (!sameShape(grad.shape, variable.shape)) {
        throw new RangeError(
          `${what}: the gradient of variable '${name}' has shape [${grad.shape}], the variable [${variable.shape}]`,
        );
      }
      const b = this.bindings.get(name);
      if (b !== undefined) {
        if (!sameShape(variable.shape, b.shape)) {
          throw new RangeError(
            `${what}: variable '${name}' had shape [${b.shape}] at its first step and has [${variable.shape}] now; its optimizer state belongs to the old shape (use a new optimizer for the reshaped model)`,
          );
        }
      } else {
        const p = this.findPending(name, claimed);
        if (p !== undefined) {
          if (!sameShape(p.shape, variable.shape)) {
            throw new RangeError(
              `${what}: variable '${name}' has shape [${variable.shape}], but the state loaded for it (saved as '${p.name}') has shape [${p.shape}]`,
            );
          }
          claimed.add(p.name);
        }
        fresh.push({ name, variable, pending: p });
      }
    }
    if (items.length === 0) return;
    const opt = this.engineOptimizer;
    // New variables become params (their values copied once); loaded state goes in before the step.
    const mark = opt.paramsMark();
    const added: Binding[] = [];
    if (fresh.length > 0) {
      try {
        for (const { name, variable, pending } of fresh) {
          const p = opt.param(variable.size, { group: pending?.group ?? this.groupOf(name) });
          copyInto(p.data, variable);
          if (pending !== undefined) {
            if (Object.keys(pending.state).sort().join() !== [...p.stateKeys].sort().join()) {
              throw new RangeError(
                `${what}: the state loaded for variable '${name}' holds [${Object.keys(pending.state).join(', ')}] but this ${this.kind} keeps [${p.stateKeys.join(', ')}]; create the optimizer with the options it was saved with`,
              );
            }
            p.birth = opt.stepCount - pending.step;
            for (const k of p.stateKeys) p.setState(k, pending.state[k]); // encodes 16/8-bit state
          }
          added.push({ name, variable, shape: variable.shape.slice(), param: p, dataId: variable.dataId as object });
        }
      } catch (e) {
        opt.dropParamsTo(mark);
        throw e;
      }
      for (const b of added) {
        this.bindings.set(b.name, b);
        this.order.push(b);
      }
    }
    // Values changed outside the optimizer since our last write are read back first.
    const stepped: Binding[] = [];
    for (const { name, grad } of items) {
      const b = this.bindings.get(name) as Binding;
      const variable = registered[name];
      if (b.variable !== variable || b.dataId !== variable.dataId) {
        b.variable = variable;
        copyInto(b.param.data, variable);
      }
      copyInto(b.param.grad, grad);
      stepped.push(b);
    }
    // Variables without a gradient in this step keep their values, state and step count.
    const skipped = stepped.length < this.order.length ? this.order.filter((b) => !stepped.includes(b)) : [];
    const saved = skipped.map((b) => {
      b.param.grad.fill(0);
      // State stored in 16 or 8 bits (stateType) is kept as its stored bytes, so it comes back bit for bit.
      const state = b.param.stateKeys.map((k) => b.param.storedState(k) ?? b.param.state(k).slice());
      return { data: b.param.data.slice(), state };
    });
    // A step that throws or is skipped changes nothing: the variables bound by this call are unbound again.
    const unbindAdded = (): void => {
      if (added.length === 0) return;
      for (const b of added) this.bindings.delete(b.name);
      this.order.splice(this.order.length - added.length);
      opt.dropParamsTo(mark);
    };
    let took: boolean;
    try {
      took = opt.step();
    } catch (e) {
      const i = e instanceof NonFiniteGradientError ? opt.firstNonFiniteGrad() : -1;
      const name = i >= 0 ? this.order.find((b) => b.param === opt.params[i])?.name : undefined;
      unbindAdded();
      if (e instanceof NonFiniteGradientError) {
        throw new NonFiniteGradientError(
          `${what}: the gradient of variable '${name ?? '?'}' holds NaN or Infinity; nothing was changed. ` +
            `Fix the loss (or its inputs), or create the optimizer with nonFinite: 'skip' to skip such steps.`,
        );
      }
      throw e;
    }
    if (!took) {
      unbindAdded();
      return;
    }
    for (const { pending } of fresh) if (pending !== undefined) this.pending.delete(pending.name);
    if (skipped.length > 0) {
      skipped.forEach((b, i) => {
        b.param.data.set(saved[i].data);
        b.param.stateKeys.forEach((k, j) => {
          const v = saved[i].state[j];
          if (v instanceof Uint8Array) b.param.setStoredState(k, v);
          else b.param.state(k).set(v);
        });
        b.param.birth += 1;
      });
      opt.dropParamsTo(opt.paramsMark()); // rebuilds the step table with the new step counts
    }
    for (const b of stepped) {
      const t = tensorFrom(b.param.data, b.shape);
      b.variable.assign(t);
      t.dispose();
      b.dataId = b.variable.dataId as object;
    }
    this.iterations_ = opt.stepCount;
  }

  /** The pending loaded state for variable `name`: saved under that name, else under its base name. */
  private findPending(name: string, claimed: Set<string>): Pending | undefined {
    const exact = this.pending.get(name);
    if (exact !== undefined && !claimed.has(name)) return exact;
    const base = baseName(name);
    for (const p of this.pending.values()) if (!claimed.has(p.name) && baseName(p.name) === base) return p;
    return undefined;
  }

  /**
   * The whole optimizer state as named tensors: `iter` (the step count, int32), `wasm_optim/meta`
   * (a string scalar: kind, learning rates and schedules, each variable's step count and group),
   * then `<variable name>/<state name>` (`exp_avg`, `exp_avg_sq`, ...) for each variable. The
   * tensors belong to the optimizer: they stay valid until the next `getWeights()` or `dispose()`.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    this.checkAlive('getWeights');
    tf.dispose(this.lastWeights);
    this.lastWeights = [];
    const opt = this.engineOptimizer;
    const dict = opt.stateDict();
    const meta: Meta = {
      version: META_VERSION,
      kind: this.kind,
      stepCount: dict.stepCount,
      options: dict.options,
      ...(dict.groups ? { groups: dict.groups } : {}),
      params: this.order.map((b, i) => ({
        name: b.name,
        shape: b.shape,
        step: dict.params[i].step,
        group: dict.params[i].group ?? 0,
        state: [...b.param.stateKeys],
      })),
    };
    // Loaded state not yet claimed by a variable is kept (a save before the first step loses nothing).
    const pending = [...this.pending.values()];
    for (const p of pending)
      meta.params.push({ name: p.name, shape: p.shape, step: p.step, group: p.group, state: Object.keys(p.state) });
    const out: NamedTensor[] = [
      { name: 'iter', tensor: tf.scalar(dict.stepCount, 'int32') },
      { name: META_WEIGHT, tensor: tf.scalar(JSON.stringify(meta), 'string') },
    ];
    this.order.forEach((b, i) => {
      for (const k of b.param.stateKeys)
        out.push({ name: `${b.name}/${k}`, tensor: tf.tensor(dict.params[i].state[k], b.shape, 'float32') });
    });
    for (const p of pending)
      for (const [k, v] of Object.entries(p.state))
        out.push({ name: `${p.name}/${k}`, tensor: tf.tensor(v.slice(), p.shape, 'float32') });
    this.lastWeights = out.map((w) => w.tensor);
    return out;
  }

  /**
   * Restores what `getWeights()` returned (from this process or from a saved model): step counts,
   * learning rates, schedules and state tensors. State for a variable this optimizer already
   * steps is loaded now; state for others waits for the variable's first gradient and is matched
   * by name (a name that tfjs-layers made unique with a `_1` suffix matches the saved one). The
   * input tensors are read, not kept. Everything is checked before anything changes.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    this.checkAlive('setWeights');
    const what = this.what('setWeights');
    if (!Array.isArray(weightValues))
      throw new TypeError(`${what}: expected an array of { name, tensor }, got ${describe(weightValues)}`);
    const byName = new Map<string, tf.Tensor>();
    for (const w of weightValues) {
      if (w === null || typeof w !== 'object' || typeof w.name !== 'string' || !(w.tensor instanceof tf.Tensor))
        throw new TypeError(`${what}: every weight must be { name, tensor }, got ${describe(w)}`);
      byName.set(w.name, w.tensor);
    }
    const metaTensor = byName.get(META_WEIGHT);
    if (metaTensor === undefined || metaTensor.dtype !== 'string') {
      throw new TypeError(
        `${what}: these weights hold no '${META_WEIGHT}' entry, so they are not a WasmOptimizer's (tfjs's own optimizers' state cannot be loaded into it)`,
      );
    }
    let meta: Meta;
    try {
      meta = JSON.parse(String((metaTensor.dataSync() as unknown as string[])[0])) as Meta;
    } catch (e) {
      throw new TypeError(`${what}: the '${META_WEIGHT}' entry is not valid JSON (${(e as Error).message})`);
    }
    if (meta?.version !== META_VERSION)
      throw new TypeError(
        `${what}: the weights are of bookkeeping version ${String(meta?.version)}; this build reads version ${META_VERSION}`,
      );
    if (meta.kind !== this.kind)
      throw new TypeError(
        `${what}: the weights are a ${meta.kind}'s; this optimizer is a ${this.kind} (create wasmOptimizer('${meta.kind}', ...))`,
      );
    if (!Array.isArray(meta.params)) throw new TypeError(`${what}: the '${META_WEIGHT}' entry has no params list`);
    const loaded = new Map<string, Pending>();
    for (const p of meta.params) {
      if (typeof p?.name !== 'string' || !Array.isArray(p.shape) || !Array.isArray(p.state))
        throw new TypeError(`${what}: a param entry of '${META_WEIGHT}' is malformed: ${JSON.stringify(p)}`);
      const size = p.shape.reduce((a, b) => a * b, 1);
      const state: Record<string, Float32Array> = {};
      for (const k of p.state) {
        const t = byName.get(`${p.name}/${k}`);
        if (t === undefined)
          throw new RangeError(`${what}: the weights have no '${p.name}/${k}' (state '${k}' of variable '${p.name}')`);
        if (t.dtype !== 'float32' || t.size !== size)
          throw new RangeError(
            `${what}: '${p.name}/${k}' is ${t.dtype} of ${t.size} values; variable '${p.name}' has shape [${p.shape}] (${size} values)`,
          );
        state[k] = (t.dataSync() as Float32Array).slice();
      }
      loaded.set(p.name, { name: p.name, shape: p.shape.slice(), step: p.step, group: p.group, state });
    }
    // Variables already bound take their state now; the rest wait for their first gradient.
    const claimed = new Set<string>();
    const prevPending = this.pending;
    this.pending = loaded;
    const matches = this.order.map((b) => {
      const p = this.findPending(b.name, claimed);
      if (p !== undefined) {
        if (!sameShape(p.shape, b.shape)) {
          this.pending = prevPending;
          throw new RangeError(
            `${what}: variable '${b.name}' has shape [${b.shape}], but the state saved as '${p.name}' has shape [${p.shape}]`,
          );
        }
        claimed.add(p.name);
      }
      return p;
    });
    const dict: OptimizerStateDict = {
      kind: this.kind,
      stepCount: meta.stepCount,
      options: meta.options,
      ...(meta.groups ? { groups: meta.groups } : {}),
      params: this.order.map((b, i) => {
        const p = matches[i];
        return p !== undefined
          ? { length: b.param.length, step: p.step, group: p.group, state: p.state }
          : {
              length: b.param.length,
              step: 0,
              group: b.param.group,
              state: Object.fromEntries(b.param.stateKeys.map((k) => [k, new Float32Array(b.param.length)])),
            };
      }),
    };
    try {
      this.engineOptimizer.loadStateDict(dict);
    } catch (e) {
      this.pending = prevPending;
      throw e;
    }
    for (const name of claimed) loaded.delete(name);
    // A pending entry's group must exist in the restored optimizer.
    for (const p of loaded.values()) {
      if (!Number.isInteger(p.group) || p.group < 0 || p.group >= this.engineOptimizer.paramGroups.length) p.group = 0;
      if (!Number.isInteger(p.step) || p.step < 0 || p.step > meta.stepCount) p.step = 0;
    }
    this.iterations_ = this.engineOptimizer.stepCount;
  }

  /**
   * The serializable config (tfjs `getConfig`): the kind and the options the optimizer was
   * created with (schedules as their JSON form; `groups` with each `match` as `{ source, flags }`).
   * The state is not in it: that is `getWeights()`.
   */
  override getConfig(): tf.serialization.ConfigDict {
    const options: tf.serialization.ConfigDict = {};
    for (const [k, v] of Object.entries(this.given))
      if (k !== 'engine' && v !== undefined) options[k] = toConfigValue(v);
    const groups = this.groupSpecs.map((g) => {
      const o: tf.serialization.ConfigDict = {
        match: { source: hideUnderscores(g.match.source), flags: g.match.flags },
      };
      for (const [k, v] of Object.entries(g.options)) if (v !== undefined) o[k] = toConfigValue(v);
      return o;
    });
    return { kind: this.kind, ...options, ...(groups.length ? { groups } : {}) };
  }

  /** Rebuilds an optimizer from `getConfig()` (tfjs calls this when it loads a model). */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const { kind, groups, ...rest } = config as Record<string, unknown>;
    const options = fromConfigOptions(rest);
    if (Array.isArray(groups)) {
      options.groups = groups.map((g) => {
        const { match, ...own } = g as Record<string, unknown>;
        const m = match as { source?: unknown; flags?: unknown } | string;
        const re =
          typeof m === 'string' ? m : new RegExp(String(m?.source), typeof m?.flags === 'string' ? m.flags : '');
        return { match: re, ...fromConfigOptions(own) };
      });
    }
    return new (cls as unknown as typeof WasmOptimizer)(String(kind), options as WasmOptimizerOptions) as unknown as T;
  }

  /** Frees the engine optimizer's memory and the tensors of the last `getWeights()`. */
  override dispose(): void {
    if (this.disposedFlag) return;
    this.iterations_ = this.engineOptimizer.isDisposed ? this.iterations_ : this.engineOptimizer.stepCount;
    this.disposedFlag = true;
    tf.dispose(this.lastWeights);
    this.lastWeights = [];
    this.engineOptimizer.dispose();
    this.bindings.clear();
    this.order.length = 0;
    this.pending.clear();
    super.dispose();
  }
}

tf.serialization.registerClass(WasmOptimizer);

/**
 * A `tf.Optimizer` running wasm-optim's dense optimizer `kind` (`'Adam'`, `'AdamW'`, `'SGD'`,
 * `'Adagrad'`, `'RMSprop'`, `'Adamax'`, `'Adadelta'`, `'NAdam'`, `'RAdam'`, `'Lion'`, `'SGDHD'`,
 * `'AdamHD'`) with that class's options (learning-rate schedules, `clipGradNorm`,
 * `clipGradValue`, `nonFinite`, ...) plus `groups`: param groups chosen by variable name, e.g.
 * `groups: [{ match: /bias/, weightDecay: 0 }]`. Call `await init()` first.
 *
 * ```ts
 * const opt = wasmOptimizer('AdamW', { lr: 1e-3, weightDecay: 0.01, groups: [{ match: /bias/, weightDecay: 0 }] });
 * model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
 * ```
 */
export function wasmOptimizer<K extends WasmOptimizerKind>(kind: K, options?: WasmOptimizerOptions<K>): WasmOptimizer {
  return new WasmOptimizer(kind, (options ?? {}) as WasmOptimizerOptions);
}
