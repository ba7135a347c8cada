// The WebAssembly and fetch types the public declarations name, written so that a project
// type-checks them with or without TypeScript's DOM lib (and without skipLibCheck): the
// `WebAssembly` namespace and `BufferSource` exist only in the DOM/WebWorker libs, not in ES2022
// or @types/node. Each alias is the global type when the project has it, else the structural part
// the engine uses (`typeof globalThis` is always declared, so the test itself never fails).

type Global = typeof globalThis;
type WasmGlobal = Global extends { WebAssembly: infer W } ? W : never;
type Ctor<K extends string> = WasmGlobal extends { [k in K]: abstract new (...args: never[]) => infer T } ? T : never;

/** `WebAssembly.Module` (a compiled module), or `object` where the project's libs lack the type. */
export type WasmModule = [Ctor<'Module'>] extends [never] ? object : Ctor<'Module'>;

/** `WebAssembly.Memory`, or its `buffer` and `grow` where the project's libs lack the type. */
export type WasmMemory = [Ctor<'Memory'>] extends [never]
  ? { readonly buffer: ArrayBuffer | SharedArrayBuffer; grow(delta: number): number }
  : Ctor<'Memory'>;

/** `WebAssembly.Instance`, or its `exports` where the project's libs lack the type. */
export type WasmInstance = [Ctor<'Instance'>] extends [never] ? { readonly exports: object } : Ctor<'Instance'>;

/** The wasm bytes: an ArrayBuffer or a view of one (the DOM lib's `BufferSource`). */
export type WasmBytes = ArrayBuffer | ArrayBufferView;
