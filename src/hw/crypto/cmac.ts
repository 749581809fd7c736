/**
 * AES-CMAC (RFC 4493) on top of any single-block AES encryptor. node:crypto has no CMAC, so the Node backend
 * uses this; the noble backend uses noble's own and the test suite checks both against the RFC vectors.
 */

function dbl(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  let carry = 0;
  for (let i = 15; i >= 0; i--) {
    const v = b[i]!;
    out[i] = ((v << 1) | carry) & 0xff;
    carry = v >>> 7;
  }
  if (carry) out[15]! ^= 0x87;
  return out;
}

export function cmacWith(encryptBlock: (block: Uint8Array) => Uint8Array, msg: Uint8Array): Uint8Array {
  const l = encryptBlock(new Uint8Array(16));
  const k1 = dbl(l);
  const k2 = dbl(k1);
  const n = Math.max(1, Math.ceil(msg.length / 16));
  const complete = msg.length > 0 && msg.length % 16 === 0;
  let x: Uint8Array = new Uint8Array(16);
  const y = new Uint8Array(16);
  for (let i = 0; i < n - 1; i++) {
    for (let j = 0; j < 16; j++) y[j] = x[j]! ^ msg[16 * i + j]!;
    x = encryptBlock(y);
  }
  const last = new Uint8Array(16);
  const rest = msg.subarray(16 * (n - 1));
  last.set(rest);
  if (complete) {
    for (let j = 0; j < 16; j++) last[j]! ^= k1[j]!;
  } else {
    last[rest.length] = 0x80;
    for (let j = 0; j < 16; j++) last[j]! ^= k2[j]!;
  }
  for (let j = 0; j < 16; j++) y[j] = x[j]! ^ last[j]!;
  return encryptBlock(y);
}
