/** SLOT of src/core/abi.ts (the text given, or the file), name -> value in declaration order. */
export declare function readSlot(abiTs?: string): Map<string, number>;
/**
 * The module `bytes` without its exported globals, after checking that they are exactly `slot` and
 * that the module exports abiHash(); the same bytes when it exports no globals. Throws otherwise.
 */
export declare function stripAbiGlobals(bytes: Uint8Array, slot: Map<string, number>, what?: string): Uint8Array;
