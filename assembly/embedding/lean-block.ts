// The lean block of a lean table (assembly/embedding/storage.ts): the layout of its words and the
// weight/state type codes, shared by storage.ts, lean-record.ts, lean-codec.ts and lean-adam.ts
// (and read by the TypeScript side through the ABI: assembly/index.ts re-exports this file).

// The lean block: u32 words LEAN_* from byte 0, then a shadow table descriptor (LEAN_SHADOW_AT),
// the list 0, 1, .., LEAN_BLOCK - 1 (LEAN_IOTA_AT) and the scratch rows (LEAN_SCRATCH_AT: LEAN_BLOCK
// rows of dim f32 weights, then LEAN_BLOCK rows of nstate * dim f32 state). Every pointer into it is
// taken relative to its base, so a copy of the block (ThreadPool.runList gives each part one, with
// LEAN_UNIQ / LEAN_GPTR moved to the part's entries) is a complete, independent work area.
export const LEAN_UNIQ = 0;     // u32 per entry: the unique rows of the update, ascending (embCoalesce's EMB_UNIQ)
export const LEAN_GPTR = 1;     // u32 per entry: byte offset of each one's gradient row (EMB_GPTR)
export const LEAN_WTYPE = 2;    // LEAN_F32 | LEAN_F16 | LEAN_BF16
export const LEAN_STYPE = 3;    // LEAN_F32 | LEAN_BF16 | LEAN_INT8
export const LEAN_NSTATE = 4;   // state tensors of dim elements per row
export const LEAN_SIGNED = 5;   // bit s set: state s takes the signed map (int8)
export const LEAN_REC = 6;      // bytes per row record
export const LEAN_ROW0 = 7;     // the table row of local row 0 (a shard's first row): rounding keys use the table's row
export const LEAN_SHIFT = 8;    // rows per chunk = 1 << shift
export const LEAN_CHUNKS = 9;   // u32 per chunk: its base address
export const LEAN_SEEDLO = 10;
export const LEAN_SEEDHI = 11;
export const LEAN_MAPS = 12;    // the maps block (shared/maps.ts), int8 state only
export const LEAN_DIM = 13;
// The f16 guard (weights stored as f16, nonFinite other than 'ignore'; 0: off): the address of the
// keep area, one entry of 4 + LEAN_REC bytes per unique row of the update ([row][its record before
// the update]); the update's whole list of unique rows (a thread's part numbers its entries from it);
// and the address of a u32 set to 1 when a row's stored weights came out infinite (past 65504).
export const LEAN_KEEP = 14;
export const LEAN_UNIQ0 = 15;
export const LEAN_FAIL = 30;
export const LEAN_FAILED = 31;  // the main block's own flag word (LEAN_FAIL points at it)
export const LEAN_SINK = 16;
// State slot s (0..2): four words from LEAN_SLOT0 + 4 s: its byte offset in a shadow (float32) row,
// its byte offset in a record, the byte offset of its absmax word in a record (int8), and its width:
// dim for a per-element tensor, else a per-row slot (e.g. row-wise Adagrad's sum) kept as float32.
export const LEAN_SLOT0 = 17;
export const LEAN_SROW = 29;    // bytes of one shadow row's state (the slots side by side, float32)
export const LEAN_NOFUSE = 32;  // test hook: non-zero runs every row through the scratch rows (no fused rows)
export const LEAN_SHADOW_AT = 144;  // 256 bytes: a table descriptor (EMB_*) over the scratch rows
export const LEAN_IOTA_AT = 400;    // LEAN_BLOCK u32
export const LEAN_SCRATCH_AT = 464;
export const LEAN_BLOCK = 16;
export const LEAN_F32 = 0;
export const LEAN_F16 = 1;
export const LEAN_BF16 = 2;
export const LEAN_INT8 = 3;
