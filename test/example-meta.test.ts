// examples/meta-gradients.ts (`npm run example:meta`) on a tiny slice of Brown, so that it cannot
// rot: it runs end to end, prints its table, and meta-gradient descent moves the hyperparameters
// and lowers the validation loss below the defaults' (two rounds on 10 files).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

it('npm run example:meta runs end to end and meta-gradient descent improves on the defaults', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'),
      'examples/meta-gradients.ts',
      '--rounds',
      '3',
      '--steps',
      '30',
      '--files',
      '10',
    ],
    { cwd: ROOT, timeout: 120_000 },
  );
  const row = (name: string): string[] => {
    const line = stdout.split('\n').find((l) => l.startsWith(`| ${name}`));
    expect(line, name).toBeDefined();
    return line!.split('|').map((c) => c.trim());
  };
  const defaults = row('Adam defaults');
  const meta = row('meta-gradient descent');
  row('grid search');
  // Columns: method, lr, β1, β2, validation loss, ...
  expect(Number(meta[2])).not.toBe(Number(defaults[2]));
  expect(Number(meta[5])).toBeLessThan(Number(defaults[5]));
  expect(Number.isFinite(Number(meta[5]))).toBe(true);
}, 180_000);
