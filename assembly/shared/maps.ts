// The maps block of int8 state (bitsandbytes' dynamic maps), filled by the TypeScript side
// (src/embedding/dynamic-map.ts) and read by shared/lowp.ts. Byte offsets:
export const MAP_SIGNED = 0;       // f32 x 256: the signed map, ascending (code c stands for map[c] * absmax)
export const MAP_UNSIGNED = 1024;  // f32 x 256: the unsigned map
// Midpoints of consecutive non-negative entries (signed: of [0, q1, .., q128 = 1]; unsigned: of the
// whole map), float32, between a -Infinity word before them and a +Infinity word after them: the
// midpoint below entry j is at MID + 4 j, the one above it at MID + 4 (j + 1).
export const MID_SIGNED = 2048;    // f32 x (1 + 128 + 1)
export const MID_UNSIGNED = 2624;  // f32 x (1 + 255 + 1)
// Buckets of the encoder (shared/lowp.ts, dynEncode): |x| in [0, 1] falls in bucket
// max(0, (bits(|x|) >> BKT_SHIFT) - BKT_FIRST), at most BKT_COUNT - 1 (1.0's bucket), i.e. by its
// exponent and top 7 fraction bits. The codes are monotonic in |x| and no bucket holds two midpoints
// (the TypeScript side checks it), so a u32 per bucket says it all: (j << 16) | thr, with j the index,
// in the non-negative entries, of the nearest entry of the bucket's smallest float (the number of
// midpoints below it), and thr the low 16 bits of the midpoint inside the bucket (0xffff if none):
// |x| is past that midpoint, and its nearest entry j + 1, exactly when its low 16 bits exceed thr.
// Bucket 0 (every |x| below 2^-22.6, clamped) and the last hold no midpoint.
export const BKT_SHIFT = 16;
export const BKT_FIRST = 13357;    // below the bucket of the lowest midpoint (unsigned map, 1.625e-7)
export const BKT_COUNT = 2900;     // buckets BKT_FIRST .. 0x3f800000 >> BKT_SHIFT
export const BKT_SIGNED = 3712;    // u32 x BKT_COUNT
export const BKT_UNSIGNED = 15312; // u32 x BKT_COUNT
export const MAPS_BYTES = 26912;
