// The ABI hash: one 32-bit number that stands for every exported constant of the wasm module
// (hyper-block slots, descriptor layout, kernel codes). scripts/gen-abi.mjs writes it twice, as
// `ABI_HASH` in src/core/abi.ts and as the module's `abiHash()` (assembly/shared/abi-hash.ts), so an
// engine checks that a .wasm matches the package with one call instead of reading 228 exported
// globals (exporting them cost ~0.7 ms of every instantiation: scripts/strip-abi-globals.mjs drops
// them from the four shipped builds after checking their values).

/** FNV-1a (32-bit, signed like a wasm i32) over `NAME=value;` of each constant, in the given order. */
export function abiHash(consts) {
  let h = 0x811c9dc5;
  for (const [name, value] of consts) {
    const s = `${name}=${value};`;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  }
  return h | 0;
}
