/** The repository's root directory. */
export declare const root: string;
/** One function of the ABI: its parameters typed for JavaScript, its result, the file that defines it. */
export interface AbiFunction {
  params: string[];
  ret: string;
  file: string;
}
/**
 * The ABI of the module built from `entry` (default assembly/index.ts): its integer constants, the
 * functions JavaScript calls, and the exported functions marked `@internal` (name -> file).
 */
export declare function scanAbi(
  entry?: string,
  generated?: string,
): { consts: Map<string, number>; fns: Map<string, AbiFunction>; internal: Map<string, string> };
