// Option validation shared by every optimizer and table: each check names the option and the
// value, and runs before anything is allocated or changed.

/** What `step()` does when a gradient holds NaN or ±Infinity. */
export type NonFinitePolicy = 'throw' | 'skip' | 'ignore';

export interface NumberRule {
  min?: number;
  max?: number;
  /** Exclude the bounds themselves. */
  minExclusive?: boolean;
  maxExclusive?: boolean;
  integer?: boolean;
}

/** A finite number within the rule, or a TypeError / RangeError naming `owner.name`. */
export function checkNumber(owner: string, name: string, value: unknown, rule: NumberRule = {}): number {
  if (value === undefined) throw new TypeError(`${owner}: option '${name}' is required (a number)`);
  if (typeof value !== 'number')
    throw new TypeError(`${owner}: option '${name}' must be a number, got ${describe(value)}`);
  if (Number.isNaN(value)) throw new RangeError(`${owner}: option '${name}' must not be NaN`);
  if (!Number.isFinite(value)) throw new RangeError(`${owner}: option '${name}' must be finite, got ${value}`);
  if (rule.integer && !Number.isInteger(value))
    throw new RangeError(`${owner}: option '${name}' must be an integer, got ${value}`);
  const { min, max } = rule;
  if (min !== undefined && (rule.minExclusive ? value <= min : value < min)) {
    throw new RangeError(`${owner}: option '${name}' must be ${rule.minExclusive ? '>' : '>='} ${min}, got ${value}`);
  }
  if (max !== undefined && (rule.maxExclusive ? value >= max : value > max)) {
    throw new RangeError(`${owner}: option '${name}' must be ${rule.maxExclusive ? '<' : '<='} ${max}, got ${value}`);
  }
  return value;
}

/** A boolean, or a TypeError naming `owner.name`. */
export function checkBoolean(owner: string, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean')
    throw new TypeError(`${owner}: option '${name}' must be a boolean, got ${describe(value)}`);
  return value;
}

/** One of `choices`, or a TypeError/RangeError naming `owner.name`. */
export function checkChoice<T extends string>(owner: string, name: string, value: unknown, choices: readonly T[]): T {
  if (typeof value !== 'string')
    throw new TypeError(
      `${owner}: option '${name}' must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${describe(value)}`,
    );
  if (!(choices as readonly string[]).includes(value)) {
    throw new RangeError(
      `${owner}: option '${name}' must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got '${value}'`,
    );
  }
  return value as T;
}

/** `[beta1, beta2]`, each in [0, 1). */
export function checkBetas(owner: string, value: unknown): [number, number] {
  if (!Array.isArray(value) || value.length !== 2)
    throw new TypeError(`${owner}: option 'betas' must be a pair [beta1, beta2], got ${describe(value)}`);
  return [
    checkNumber(owner, 'betas[0]', value[0], { min: 0, max: 1, maxExclusive: true }),
    checkNumber(owner, 'betas[1]', value[1], { min: 0, max: 1, maxExclusive: true }),
  ];
}

/** Names people carry over from PyTorch, Keras or optax, and the option they mean here. */
const ALIASES: Readonly<Record<string, string>> = {
  learningRate: 'lr',
  learning_rate: 'lr',
  epsilon: 'eps',
  beta1: 'betas',
  beta2: 'betas',
  beta_1: 'betas',
  beta_2: 'betas',
  decay: 'weightDecay',
  l2: 'weightDecay',
  rho: 'alpha',
};

/** Edit distance (insert, delete, substitute, swap of neighbours), case-insensitive. */
function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The known option an unknown `key` most likely meant: its camelCase form (`weight_decay`), a
 * name from another library (`learningRate` → `lr`), or a near spelling (`weightDecy`); else null.
 */
export function suggestKey(key: string, known: readonly string[]): string | null {
  const camel = key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
  if (known.includes(camel)) return camel;
  const alias = ALIASES[key] ?? ALIASES[camel];
  if (alias !== undefined && known.includes(alias)) return alias;
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const k of known) {
    const dist = editDistance(camel, k);
    if (dist < bestDistance) {
      best = k;
      bestDistance = dist;
    }
  }
  // Near enough to be a typo: at most 2 edits, and fewer than a third of the name.
  return best !== null && bestDistance <= 2 && bestDistance * 3 < Math.max(camel.length, best.length) ? best : null;
}

/** Throws a TypeError for option names that `owner` does not know (catches typos such as `weight_decay`). */
export function checkKnownKeys(owner: string, options: object, known: readonly string[]): void {
  if (options === null || typeof options !== 'object')
    throw new TypeError(`${owner}: options must be an object, got ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw unknownOption(owner, key, known);
  }
}

/** The TypeError for an unknown option, with a "did you mean" hint where one fits. */
export function unknownOption(owner: string, key: string, known: readonly string[]): TypeError {
  const guess = suggestKey(key, known);
  const hint = guess !== null ? ` (did you mean '${guess}'?)` : '';
  return new TypeError(`${owner}: unknown option '${key}'${hint}; known options: ${known.join(', ')}`);
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** The TypeError for `zeroGrad(arg)`: it takes no options (PyTorch's `set_to_none` has no equivalent here). */
export function zeroGradArgs(arg: unknown): TypeError {
  const keys = arg !== null && typeof arg === 'object' ? Object.keys(arg) : [];
  const setToNone = keys.some((k) => k === 'setToNone' || k === 'set_to_none');
  return new TypeError(
    `zeroGrad() takes no arguments, got ${describe(arg)}${keys.length ? ` with ${keys.map((k) => `'${k}'`).join(', ')}` : ''}` +
      (setToNone
        ? ': gradients live in engine memory as live views and are always zeroed in place (there is no set_to_none); call zeroGrad()'
        : '; call zeroGrad()'),
  );
}
