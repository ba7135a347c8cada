// The maps block of int8 state (bitsandbytes' dynamic maps), filled by the TypeScript side
// (src/embedding/dynamic-map.ts) and read by shared/lowp.ts. Byte offsets:
export const MAP_SIGNED = 0;       // f32 x 256: the signed map, ascending (code c stands for map[c] * absmax)
export const MAP_UNSIGNED = 1024;  // f32 x 256: the unsigned map
// Midpoints of consecutive non-negative entries (signed: of [0, q1, .., q128 = 1]; unsigned: of the
// whole map), float32, between a -Infinity word before them and a +Infinity word after them: the
// midpoint below entry j is at MID + 4 j, the one above it at MID + 4 (j + 1).
export const MID_SIGNED = 2048;    // f32 x (1 + 128 + 1)
export const MID_UNSIGNED = 2624;  // f32 x (1 + 255 + 1)
export const MAPS_BYTES = 3712;
