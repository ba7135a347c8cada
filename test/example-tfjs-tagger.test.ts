// examples/tfjs-tagger on a tiny slice of Brown, so that it cannot rot: it runs end to end, both
// side-by-side arms do the same arithmetic (same loss and accuracy), the full-table run learns,
// and on tfjs's wasm backend tfjs's own embedding reports that it cannot train.
import { describe, expect, it } from 'vitest';
import { formatTable, parseFlags, runTfjsTagger, type TaggerFlags } from '../examples/tfjs-tagger/run.js';

const TINY: TaggerFlags = {
  ...parseFlags([]),
  files: 20,
  tokens: 120,
  rows: 32,
  dim: 4,
  epochs: 1,
  batch: 32,
  fullEpochs: 1,
  fullTokens: 3000,
  fullBatch: 256,
  testTokens: 400,
};

function capture(): { write(text: string): boolean; text: string } {
  return {
    text: '',
    write(t: string) {
      this.text += t;
      return true;
    },
  };
}

describe('examples/tfjs-tagger', () => {
  it('runs on a tiny slice (cpu backend): WasmEmbedding and tfjs own embedding agree, the full-table run learns', async () => {
    const out = capture();
    const rows = await runTfjsTagger({ ...TINY, backend: 'cpu' }, out);
    expect(rows.map((r) => r.name)).toEqual([
      'WasmEmbedding + tf.train.adam',
      'tf.layers.embedding + tf.train.adam',
      'WasmEmbedding + tf.train.adam (full)',
    ]);
    const [mine, theirs, full] = rows;
    // Same initial weights, batches and Adam (the table's in exact mode): the same training.
    expect(mine!.loss).toBeCloseTo(theirs!.loss, 4);
    expect(Math.abs(mine!.accuracy - theirs!.accuracy)).toBeLessThanOrEqual(0.005);
    expect(full!.accuracy).toBeGreaterThan(0.6);
    for (const r of rows) expect(r.secondsPerEpoch).toBeGreaterThan(0);
    expect(out.text).toContain('| WasmEmbedding + tf.train.adam (full) |');
    expect(out.text).toMatch(/Subsampled to keep the run short/);
    expect(out.text).toMatch(/WasmEmbedding: epoch 1\/1, batch \d+\/\d+, loss/);
  });

  it('on the wasm backend tfjs own embedding cannot train (no UnsortedSegmentSum kernel); WasmEmbedding does', async () => {
    const out = capture();
    const rows = await runTfjsTagger({ ...TINY, backend: 'wasm', fullEpochs: 0 }, out);
    expect(rows).toHaveLength(2);
    expect(rows[0]!.accuracy).toBeGreaterThan(0);
    expect(rows[1]!.error).toMatch(/UnsortedSegmentSum/);
    expect(formatTable(rows)).toMatch(
      /\| tf.layers.embedding \+ tf.train.adam \| 32 x 4 \| \d+ \| 0 \| cannot train \| n\/a \| n\/a \|/,
    );
  });

  it('parses its flags and refuses bad ones', () => {
    expect(parseFlags(['--backend', 'wasm', '--tokens', '500', '--lr', '0.02', '--full-epochs', '0'])).toMatchObject({
      backend: 'wasm',
      tokens: 500,
      lr: 0.02,
      fullEpochs: 0,
    });
    expect(() => parseFlags(['--backend', 'webgl'])).toThrow(/--backend must be cpu or wasm, got 'webgl'/);
    expect(() => parseFlags(['--rows', '0'])).toThrow(/--rows must be an integer >= 1/);
    expect(() => parseFlags(['--lr', '-1'])).toThrow(/--lr must be a positive number/);
    expect(() => parseFlags(['--nope', '1'])).toThrow(/unknown flag '--nope'/);
    expect(() => parseFlags(['--tokens'])).toThrow(/--tokens needs a value/);
  });
});
