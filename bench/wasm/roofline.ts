// Bench-only (not in the shipped wasm): built by bench/wasm/build.mjs (`npm run bench:build`)
// into bench/.build/roofline.{simd,scalar}.wasm and loaded by bench/lib/roofline.js.
// The memory roofline for the benchmarks: a kernel that moves exactly the bytes of a dense
// optimizer step with no floating-point arithmetic, so an optimizer's rate over this rate is the
// share of the memory bandwidth it reaches. With two state tensors it reads p, g, s0, s1 and
// writes p, s0, s1 (Adam's traffic); with one (s1 = 0) it reads p, g, s0 and writes p, s0
// (SGD-momentum, Adagrad); with none (s0 = s1 = 0) it reads p, g and writes p.
// Values are rotated between the buffers (p <- s0 <- s1 <- p ^ g) so that every load feeds a
// store and none can be optimized away; one bitwise xor per vector is the only operation. The
// buffers' contents are meaningless afterwards.

@inline function rot2(p: usize, g: usize, a: usize, b: usize, o: usize): void {
  const pv = v128.load(p + o), gv = v128.load(g + o), av = v128.load(a + o), bv = v128.load(b + o);
  v128.store(p + o, av);
  v128.store(a + o, bv);
  v128.store(b + o, v128.xor(pv, gv));
}

@inline function rot1(p: usize, g: usize, a: usize, o: usize): void {
  const pv = v128.load(p + o), gv = v128.load(g + o), av = v128.load(a + o);
  v128.store(p + o, av);
  v128.store(a + o, v128.xor(pv, gv));
}

@inline function rot0(p: usize, g: usize, o: usize): void {
  v128.store(p + o, v128.xor(v128.load(p + o), v128.load(g + o)));
}

/** Moves the bytes of one optimizer step over `n` elements (see the file comment). */
export function roofline(p: usize, g: usize, s0: usize, s1: usize, n: usize): void {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const n16 = n & ~(<usize>15);
    if (s1 != 0) {
      for (; i < n16; i += 16) {
        const o = i << 2;
        rot2(p, g, s0, s1, o); rot2(p, g, s0, s1, o + 16); rot2(p, g, s0, s1, o + 32); rot2(p, g, s0, s1, o + 48);
      }
    } else if (s0 != 0) {
      for (; i < n16; i += 16) {
        const o = i << 2;
        rot1(p, g, s0, o); rot1(p, g, s0, o + 16); rot1(p, g, s0, o + 32); rot1(p, g, s0, o + 48);
      }
    } else {
      for (; i < n16; i += 16) {
        const o = i << 2;
        rot0(p, g, o); rot0(p, g, o + 16); rot0(p, g, o + 32); rot0(p, g, o + 48);
      }
    }
  }
  for (; i < n; i++) {
    const o = i << 2;
    const pv = load<u32>(p + o), gv = load<u32>(g + o);
    if (s1 != 0) {
      const av = load<u32>(s0 + o), bv = load<u32>(s1 + o);
      store<u32>(p + o, av);
      store<u32>(s0 + o, bv);
      store<u32>(s1 + o, pv ^ gv);
    } else if (s0 != 0) {
      const av = load<u32>(s0 + o);
      store<u32>(p + o, av);
      store<u32>(s0 + o, pv ^ gv);
    } else {
      store<u32>(p + o, pv ^ gv);
    }
  }
}
