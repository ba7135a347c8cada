/** The part of binaryen.js that the transform uses. */
export interface BinaryenLike {
  ExternalFunction: number;
  getExportInfo(ref: number): { kind: number; name: string };
}
/** The part of a binaryen.js `Module` that the transform uses. */
export interface ModuleLike {
  getNumExports(): number;
  getExportByIndex(index: number): number;
  removeExport(name: string): void;
}
/** Names of the function exports of a Binaryen module. */
export declare function functionExports(binaryen: BinaryenLike, module: ModuleLike): string[];
/** Removes the function exports outside `keep` (and the start function); returns their names. */
export declare function keepExports(binaryen: BinaryenLike, module: ModuleLike, keep: Set<string>): string[];
/** The asc transform. */
export default class WasmExports {
  afterCompile(module: ModuleLike): void;
}
