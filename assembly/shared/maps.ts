// The maps block of int8 state (bitsandbytes' dynamic maps), filled by the TypeScript side
// (src/embedding/dynamic-map.ts) and read by shared/lowp.ts. Byte offsets:
export const MAP_SIGNED = 0;       // f32 x 256: the signed map, ascending (code c stands for map[c] * absmax)
export const MAP_UNSIGNED = 1024;  // f32 x 256: the unsigned map
export const MID_SIGNED = 2048;    // f32 x 256: midpoints of the signed map's non-negative half [0, q1, .., 1] (128), then +Infinity
export const MID_UNSIGNED = 3072;  // f32 x 256: midpoints of the unsigned map (255), then +Infinity
export const LUT_SIGNED = 4096;    // u8 x 32768: for |x| with f32 bits b <= 1.0f, the index in the
export const LUT_UNSIGNED = 36864; //   non-negative half nearest to the lowest value of bucket b >> 15
export const MAPS_BYTES = 69632;
