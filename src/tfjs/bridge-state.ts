// What the tfjs optimizer bridge (./optimizer.ts) keeps per variable and saves with
// `getWeights()`, and the conversions of options to and from tfjs's serialized config.

import type * as tf from '@tensorflow/tfjs-core';
import { isSchedule, scheduleFromJSON } from '../index.js';
import type { OptimizerStateDict, Param, ScheduleSpec } from '../index.js';

/** Version of the bookkeeping JSON in `getWeights()`. */
export const META_VERSION = 1;

/** One tfjs variable bound to an engine param. */
export interface Binding {
  name: string;
  variable: tf.Variable;
  shape: number[];
  param: Param;
  /** The variable's dataId after our last write: another one means someone assigned it. */
  dataId: object;
}

/** State saved for a variable that has no param yet (from `setWeights`), applied at its first step. */
export interface Pending {
  name: string;
  shape: number[];
  step: number;
  group: number;
  state: Record<string, Float32Array>;
}

/** The bookkeeping part of `getWeights()` (the state tensors travel as tensors). */
export interface Meta {
  version: number;
  kind: string;
  stepCount: number;
  options: Record<string, unknown>;
  groups?: OptimizerStateDict['groups'];
  params: { name: string; shape: number[]; step: number; group: number; state: string[] }[];
}

export const describe = (v: unknown): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'an array'
      : typeof v === 'object'
        ? `a ${(v as object).constructor?.name ?? 'object'}`
        : `${typeof v} ${String(v)}`;

/** The variable name without tfjs-layers' uniquifying suffix (`dense/kernel_1` -> `dense/kernel`). */
export const baseName = (name: string): string => name.replace(/_\d+$/, '');

/**
 * A RegExp source with every `_` written `\x5f` (same pattern): tfjs-layers camel-cases every
 * string holding an underscore when it reads a saved training config back.
 */
export function hideUnderscores(source: string): string {
  let out = '';
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\' && i + 1 < source.length) {
      out += source[i + 1] === '_' ? '\\x5f' : c + source[i + 1];
      i++;
    } else out += c === '_' ? '\\x5f' : c;
  }
  return out;
}

export const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** A value of an option in config form (schedules as their JSON, under `lr`). */
export function toConfigValue(v: unknown): tf.serialization.ConfigDictValue {
  if (isSchedule(v)) return v.toJSON() as unknown as tf.serialization.ConfigDict;
  if (Array.isArray(v)) return v.map(toConfigValue);
  return v as tf.serialization.ConfigDictValue;
}

/** An option back from config form (a schedule's JSON under `lr` becomes the schedule). */
export function fromConfigOptions(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === 'customObjects') continue; // added by tfjs-layers' deserializer
    out[k] =
      k === 'lr' && v !== null && typeof v === 'object' && !Array.isArray(v) ? scheduleFromJSON(v as ScheduleSpec) : v;
  }
  return out;
}
