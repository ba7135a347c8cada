// Every optimizer, once. Adding an optimizer: its declaration and class in src/optimizers/<name>.ts,
// its kernel family in assembly/optimizers/<name>/, and one line here. Dense use, tables (when the
// declaration names a `table` and a `rowKernel`), checkpoints and the tests all read this list.

import type { AnyDeclaration } from '../core/declaration.js';
import { Adadelta } from './adadelta.js';
import { Adagrad } from './adagrad.js';
import { Adam, AdamW } from './adam.js';
import { Adamax } from './adamax.js';
import { FTRL } from './ftrl.js';
import { AdamHD, SGDHD } from './hypergrad.js';
import { Lion } from './lion.js';
import { NAdam } from './nadam.js';
import { RAdam } from './radam.js';
import { RMSprop } from './rmsprop.js';
import { partialRowwiseAdamDecl, rowwiseAdagradDecl } from './rowwise.js';
import { SGD } from './sgd.js';

/** Every dense optimizer class, by its name (`kind`). */
export const OPTIMIZERS = {
  Adam,
  AdamW,
  SGD,
  Adagrad,
  RMSprop,
  Adamax,
  Adadelta,
  NAdam,
  RAdam,
  Lion,
  SGDHD,
  AdamHD,
  FTRL,
} as const;

/** The name of a dense optimizer class (`'Adam'`, `'SGD'`, ...). */
export type OptimizerName = keyof typeof OPTIMIZERS;

/**
 * The optimizers an `Embedding` table can use, by their table name (the lower-case names of
 * their declarations' `table`).
 */
export type EmbeddingOptimizer =
  | 'sgd'
  | 'adagrad'
  | 'adam'
  | 'adamw'
  | 'adamax'
  | 'lion'
  | 'adadelta'
  | 'nadam'
  | 'radam'
  | 'rowwiseAdagrad'
  | 'partialRowwiseAdam'
  | 'ftrl';

/**
 * The declarations of table-only optimizers: their state holds one float per table row
 * (`rowState`), which a dense tensor has no rows for (src/optimizers/rowwise.ts).
 */
export const TABLE_ONLY_DECLARATIONS: readonly AnyDeclaration[] = [rowwiseAdagradDecl, partialRowwiseAdamDecl];

/** The declaration behind each table optimizer name, from the classes above and the table-only ones, in row-kernel order. */
export const TABLE_OPTIMIZERS: ReadonlyMap<EmbeddingOptimizer, AnyDeclaration> = new Map(
  [...Object.values(OPTIMIZERS).map((c) => c.declaration as AnyDeclaration), ...TABLE_ONLY_DECLARATIONS]
    .filter((d) => d.table !== undefined && d.rowKernel !== undefined)
    .sort((a, b) => (a.rowKernel as number) - (b.rowKernel as number))
    .map((d): [EmbeddingOptimizer, AnyDeclaration] => [d.table as EmbeddingOptimizer, d]),
);

/** The table optimizer names, in registry order. */
export const TABLE_OPTIMIZER_NAMES: readonly EmbeddingOptimizer[] = [...TABLE_OPTIMIZERS.keys()];
