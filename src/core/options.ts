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
  if (typeof value !== 'number') throw new TypeError(`${owner}: option '${name}' must be a number, got ${describe(value)}`);
  if (Number.isNaN(value)) throw new RangeError(`${owner}: option '${name}' must not be NaN`);
  if (!Number.isFinite(value)) throw new RangeError(`${owner}: option '${name}' must be finite, got ${value}`);
  if (rule.integer && !Number.isInteger(value)) throw new RangeError(`${owner}: option '${name}' must be an integer, got ${value}`);
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
  if (typeof value !== 'boolean') throw new TypeError(`${owner}: option '${name}' must be a boolean, got ${describe(value)}`);
  return value;
}

/** One of `choices`, or a TypeError/RangeError naming `owner.name`. */
export function checkChoice<T extends string>(owner: string, name: string, value: unknown, choices: readonly T[]): T {
  if (typeof value !== 'string') throw new TypeError(`${owner}: option '${name}' must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${describe(value)}`);
  if (!(choices as readonly string[]).includes(value)) {
    throw new RangeError(`${owner}: option '${name}' must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got '${value}'`);
  }
  return value as T;
}

/** `[beta1, beta2]`, each in [0, 1). */
export function checkBetas(owner: string, value: unknown): [number, number] {
  if (!Array.isArray(value) || value.length !== 2) throw new TypeError(`${owner}: option 'betas' must be a pair [beta1, beta2], got ${describe(value)}`);
  return [
    checkNumber(owner, 'betas[0]', value[0], { min: 0, max: 1, maxExclusive: true }),
    checkNumber(owner, 'betas[1]', value[1], { min: 0, max: 1, maxExclusive: true }),
  ];
}

/** Throws a TypeError for option names that `owner` does not know (catches typos such as `weight_decay`). */
export function checkKnownKeys(owner: string, options: object, known: readonly string[]): void {
  if (options === null || typeof options !== 'object') throw new TypeError(`${owner}: options must be an object, got ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const camel = key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
      const hint = camel !== key && known.includes(camel) ? ` (did you mean '${camel}'?)` : '';
      throw new TypeError(`${owner}: unknown option '${key}'${hint}; known options: ${known.join(', ')}`);
    }
  }
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
