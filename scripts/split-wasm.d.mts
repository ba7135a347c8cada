/** COLD_FUNCTIONS of src/core/cold.ts (the text given, or the file), in declaration order. */
export declare function readCold(coldTs?: string): string[];
/** The export name of a mutable global of the core module (`~g.<name>`), which the cold module imports. */
export declare function globalExport(name: string): string;
/** The core and cold modules of a one-thread build; throws when a cold name is not exported. */
export declare function splitWasm(bytes: Uint8Array, cold?: readonly string[]): { core: Uint8Array; cold: Uint8Array };
