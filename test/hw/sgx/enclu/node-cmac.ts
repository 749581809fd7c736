// AES-128-CMAC (RFC 4493) on node:crypto's AES-128-ECB: an oracle independent of the simulator's CryptoBackend.
import { createCipheriv } from 'node:crypto';

function aes(key: Uint8Array, block: Uint8Array): Uint8Array {
  const c = createCipheriv('aes-128-ecb', key, null);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(block), c.final()]));
}

function dbl(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = ((b[i]! << 1) | (i < 15 ? b[i + 1]! >> 7 : 0)) & 0xff;
  if (b[0]! & 0x80) out[15]! ^= 0x87;
  return out;
}

export function nodeCmac(key: Uint8Array, msg: Uint8Array): Uint8Array {
  const k1 = dbl(aes(key, new Uint8Array(16)));
  const k2 = dbl(k1);
  const n = Math.max(1, Math.ceil(msg.length / 16));
  const complete = msg.length > 0 && msg.length % 16 === 0;
  let x: Uint8Array = new Uint8Array(16);
  for (let i = 0; i < n; i++) {
    const block = new Uint8Array(16);
    block.set(msg.subarray(16 * i, 16 * i + 16));
    if (i === n - 1) {
      if (!complete) block[msg.length - 16 * i] = 0x80;
      const k = complete ? k1 : k2;
      for (let j = 0; j < 16; j++) block[j]! ^= k[j]!;
    }
    for (let j = 0; j < 16; j++) block[j]! ^= x[j]!;
    x = aes(key, block);
  }
  return x;
}
