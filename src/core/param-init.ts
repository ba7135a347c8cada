// A new param's initial values, checked before anything is allocated: a size, or an array whose
// values are finite numbers within float32's range (read once: an array-like or a Proxy could give
// other values the second time).

import type { Engine } from './engine.js';
import { describe } from './options.js';

/**
 * @internal The length of the param `init` describes and the values to copy into it (null for a
 * size: zeros); throws a TypeError/RangeError naming the fix (`kind` names the optimizer).
 */
export function readParamInit(
  kind: string,
  engine: Engine,
  init: ArrayLike<number> | number,
): { length: number; values: ArrayLike<number> | null } {
  let length: number;
  if (typeof init === 'number') {
    if (!Number.isInteger(init) || init < 0)
      throw new RangeError(`${kind}.param: a size must be a non-negative integer, got ${init}`);
    length = init;
  } else if (init != null && typeof init === 'object' && typeof (init as ArrayLike<number>).length === 'number') {
    // A view into engine memory (another param's data, say) would be detached if this param's
    // allocation grows the memory: copy it first.
    if (ArrayBuffer.isView(init) && init.buffer === engine.memory.buffer) init = (init as Float32Array).slice();
    // Anything but a genuine typed array (an array, an array-like, a Proxy) is read once into a
    // copy, which is what gets checked and copied: a value read twice could differ the second time.
    if (!ArrayBuffer.isView(init)) {
      const n = init.length;
      if (!Number.isInteger(n) || n < 0)
        throw new TypeError(
          `${kind}.param: expected a Float32Array, an array of numbers or a size; this array-like has length ${n}`,
        );
      if (n > 0x0fffffff)
        throw new RangeError(`${kind}.param: ${n} elements is more than one tensor can hold; split it`);
      const copy = new Array<number>(n);
      for (let i = 0; i < n; i++) copy[i] = (init as ArrayLike<number>)[i];
      init = copy;
    }
    length = init.length;
    for (let i = 0; i < length; i++) {
      const x = init[i];
      if (typeof x !== 'number')
        throw new TypeError(`${kind}.param: initial value [${i}] is ${describe(x)}; values must be finite numbers`);
      if (!Number.isFinite(x))
        throw new RangeError(`${kind}.param: initial value [${i}] is ${x}; values must be finite numbers`);
      if (!Number.isFinite(Math.fround(x)))
        throw new RangeError(
          `${kind}.param: initial value [${i}] is ${x}, beyond float32's range (±3.4e38); scale the values down`,
        );
    }
  } else {
    throw new TypeError(`${kind}.param: expected a Float32Array, an array of numbers or a size, got ${describe(init)}`);
  }
  if (length > 0x0fffffff)
    throw new RangeError(`${kind}.param: ${length} elements is more than one tensor can hold; split it`);
  return { length, values: typeof init === 'number' ? null : init };
}
