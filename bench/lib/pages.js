// First-touch page faults out of the timed loops. The C contenders allocate their tables and write
// every page before timing (the weights' random fill, memset of the moments, the slot array), so
// they run with every page resident. A fresh wasm memory (or Float32Array) is zero pages that the
// OS maps on the first write: an engine table's optimizer state, exact mode's step words and the
// pages a sweep reaches first would fault inside the timed updates (on this VM a fault also costs a
// trip to the hypervisor). `touchPages` ORs 0 into one byte of every page: nothing
// changes, and every page is resident, as the C program's are.

const PAGE = 4096;

/**
 * ORs 0 into one byte per page of `buffer` (an ArrayBuffer, a SharedArrayBuffer or a view): a
 * write that changes nothing. Call it only while nothing else writes the memory (no update running on a worker).
 * @param {ArrayBufferLike | ArrayBufferView} buffer
 * @returns {number} the pages touched
 */
export function touchPages(buffer) {
  const u8 = ArrayBuffer.isView(buffer)
    ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
    : new Uint8Array(buffer);
  let pages = 0;
  for (let i = 0; i < u8.length; i += PAGE) {
    u8[i] |= 0;
    pages++;
  }
  return pages;
}
