// The CPU a figure was measured on: model name, and on Linux the vendor's family and model numbers
// (/proc/cpuinfo), because ratios differ between CPU families that share a model name ("AMD EPYC"
// is Zen 1 as family 23 and Zen 4 as family 25).
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/**
 * `{ model, family, modelNumber, label }` of the first CPU: family and modelNumber are numbers read
 * from /proc/cpuinfo, or null where it is absent (not Linux, or an architecture without them).
 */
export function cpuIdentity() {
  const model = cpus()[0]?.model?.trim() || 'unknown CPU';
  let family = null;
  let modelNumber = null;
  try {
    const first = readFileSync('/proc/cpuinfo', 'utf8').split(/\n\s*\n/)[0];
    const field = (name) => {
      const m = new RegExp(`^${name}\\s*:\\s*(\\d+)\\s*$`, 'm').exec(first);
      return m ? Number(m[1]) : null;
    };
    family = field('cpu family');
    modelNumber = field('model');
  } catch {
    // Not Linux: the model name alone.
  }
  const label =
    family === null ? model : `${model}, family ${family}${modelNumber === null ? '' : ` model ${modelNumber}`}`;
  return { model, family, modelNumber, label };
}
