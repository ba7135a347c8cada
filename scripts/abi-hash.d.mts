/** The ABI hash of the module's exported constants, `[name, value]` in declaration order (see abi-hash.mjs). */
export declare function abiHash(consts: Iterable<readonly [string, number]>): number;
