// Conversions between float32 and the 16-bit formats on the TypeScript side (safetensors files, the
// decoded copies of dense optimizers' bf16 state): widening is exact; narrowing rounds to nearest, ties to
// even (exact for values a lean table holds).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** bfloat16 bits -> float32 values (exact). */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

/** float32 -> bfloat16 bits, nearest, ties to even (finite values). */
export function f32ToBf16(values: Float32Array): Uint16Array {
  const b = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = (b[i] + 0x7fff + ((b[i] >>> 16) & 1)) >>> 16;
  return out;
}

/** IEEE half bits -> float32 values (exact). */
export function f16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f,
      m = h & 0x3ff;
    out[i] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return out;
}

/** float32 -> IEEE half bits, nearest, ties to even (past 65504: infinity). */
export function f32ToF16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i];
    const b = u32[0];
    const s = (b >>> 16) & 0x8000,
      a = b & 0x7fffffff;
    let h: number;
    if (a > 0x7f800000) h = 0x7e00;
    else if (a >= 0x38800000) {
      h = ((a + 0xfff + ((a >>> 13) & 1)) >>> 13) - (112 << 10);
      if (h >= 0x7c00) h = 0x7c00;
    } else {
      const y = Math.abs(values[i]) * 2 ** 24; // < 1024, exact
      const r = Math.round(y);
      h = r - y === 0.5 && r % 2 === 1 ? r - 1 : r; // ties to even
    }
    out[i] = s | h;
  }
  return out;
}
