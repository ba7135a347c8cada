// The shared shape of every float64 reference optimizer: PyTorch 2.x's published algorithm
// (torch.optim, the single-tensor "for-loop" implementation) written out element by element in
// float64, with PyTorch's per-param `step` so that params added late take their own step 1.
// Used by the exactness tests, the property tests and the checkpoint fuzzer; add a file per new
// optimizer (Adamax, NAdam, ...) that extends `RefOptimizer` and register it in ./index.ts.

/** One param's optimizer state, keyed by PyTorch's state names (`exp_avg`, `sum`, ...). */
export type RefState = Record<string, Float64Array>;

/**
 * A float64 reference optimizer. `O` is the real optimizer's option type (minus `engine` and
 * `nonFinite`), so the option names are the real ones; missing options take PyTorch's defaults.
 */
export abstract class RefOptimizer<O extends object> {
  /** The params in float64, in the order they were added. */
  readonly params: Float64Array[] = [];
  /** Each param's state tensors, under the same names as the real optimizer's `Param.stateKeys`. */
  readonly state: RefState[] = [];
  /** Each param's own step count (PyTorch's `state['step']`), 0 before its first step. */
  readonly steps: number[] = [];
  /** The resolved options (defaults filled in); `lr` may be changed between steps. */
  readonly options: Required<O>;

  constructor(options: O, defaults: Required<O>) {
    this.options = { ...defaults };
    for (const [k, v] of Object.entries(options)) if (v !== undefined) (this.options as Record<string, unknown>)[k] = v;
  }

  /** The learning rate used by the next step. */
  get lr(): number {
    return (this.options as unknown as { lr: number }).lr;
  }

  set lr(value: number) {
    (this.options as unknown as { lr: number }).lr = value;
  }

  /** Adds a param holding a float64 copy of `values`; returns its index. Its state starts fresh. */
  addParam(values: ArrayLike<number>): number {
    const p = Float64Array.from(values);
    this.params.push(p);
    this.state.push(this.initState(p.length));
    this.steps.push(0);
    return this.params.length - 1;
  }

  /** One step of every param: `grads[i]` is the gradient of param `i` (same length). */
  step(grads: readonly ArrayLike<number>[]): void {
    if (grads.length !== this.params.length)
      throw new RangeError(`reference: ${grads.length} gradients for ${this.params.length} params`);
    grads.forEach((g, i) => {
      if (g.length !== this.params[i].length)
        throw new RangeError(`reference: gradient ${i} has length ${g.length}, param has ${this.params[i].length}`);
    });
    for (let i = 0; i < this.params.length; i++) {
      this.steps[i] += 1;
      this.update(this.params[i], grads[i], this.state[i], this.steps[i]);
    }
  }

  /** A deep copy (params, state, steps and options), e.g. to branch a run in a fuzzer. */
  clone(): this {
    const c = Object.create(Object.getPrototypeOf(this)) as this;
    const opts = structuredClone(this.options);
    Object.assign(c, {
      params: this.params.map((p) => p.slice()),
      state: this.state.map((s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.slice()]))),
      steps: this.steps.slice(),
      options: opts,
    });
    return c;
  }

  /** Fresh state for a param of `n` elements (PyTorch's lazy state initialization). */
  protected abstract initState(n: number): RefState;

  /** Updates `p` and its state `s` in place for the param's `t`-th step (t >= 1). */
  protected abstract update(p: Float64Array, grad: ArrayLike<number>, s: RefState, t: number): void;
}
