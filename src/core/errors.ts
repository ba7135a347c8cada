/** Thrown by `step()` under `nonFinite: 'throw'` when a gradient holds NaN or ±Infinity.
 *  Nothing was changed: neither params nor optimizer state nor the step count. */
export class NonFiniteGradientError extends RangeError {
  override name = 'NonFiniteGradientError';
}

/** Thrown when an optimizer, param or table is used after `dispose()`. */
export class DisposedError extends Error {
  override name = 'DisposedError';
}
