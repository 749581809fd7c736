/* Benchmark workloads for bench/cpu.ts: the same object runs natively (timed by the driver) and on the
 * interpreter. Signature: u64 w_NAME(u8 *buf, u64 n). */
typedef unsigned long u64; typedef unsigned int u32; typedef unsigned char u8; typedef int i32;
#define NOLDP __attribute__((optimize("no-tree-loop-distribute-patterns")))
NOLDP void *memcpy(void *d, const void *s, u64 n) { u8 *dd = d; const u8 *ss = s; for (u64 i = 0; i < n; i++) dd[i] = ss[i]; return d; }
NOLDP void *memset(void *d, int c, u64 n) { u8 *dd = d; for (u64 i = 0; i < n; i++) dd[i] = (u8)c; return d; }
static const u32 K[64] = {
  0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,0xd807aa98,0x12835b01,
  0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,
  0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,
  0x06ca6351,0x14292967,0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
  0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,0x19a4c116,0x1e376c08,
  0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,
  0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2};
#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
static void blk(u32 *h, const u8 *p) {
  u32 w[64];
  for (int i = 0; i < 16; i++) w[i] = (u32)p[4*i] << 24 | (u32)p[4*i+1] << 16 | (u32)p[4*i+2] << 8 | p[4*i+3];
  for (int i = 16; i < 64; i++) { u32 s0 = ROR(w[i-15], 7) ^ ROR(w[i-15], 18) ^ (w[i-15] >> 3); u32 s1 = ROR(w[i-2], 17) ^ ROR(w[i-2], 19) ^ (w[i-2] >> 10); w[i] = w[i-16] + s0 + w[i-7] + s1; }
  u32 a=h[0],b=h[1],c=h[2],d=h[3],e=h[4],f=h[5],g=h[6],hh=h[7];
  for (int i = 0; i < 64; i++) { u32 t1 = hh + (ROR(e,6) ^ ROR(e,11) ^ ROR(e,25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]; u32 t2 = (ROR(a,2) ^ ROR(a,13) ^ ROR(a,22)) + ((a & b) ^ (a & c) ^ (b & c)); hh=g; g=f; f=e; e=d+t1; d=c; c=b; b=a; a=t1+t2; }
  h[0]+=a; h[1]+=b; h[2]+=c; h[3]+=d; h[4]+=e; h[5]+=f; h[6]+=g; h[7]+=hh;
}
u64 w_sha256(u8 *buf, u64 n) { u32 h[8] = {0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19}; for (u64 i = 0; i + 64 <= n; i += 64) blk(h, buf + i); return (u64)h[0] << 32 | h[1]; }
u64 w_crc32(u8 *buf, u64 n) { static u32 t[256]; for (u32 i = 0; i < 256; i++) { u32 c = i; for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >> 1) : c >> 1; t[i] = c; } u32 c = ~0u; for (u64 i = 0; i < n; i++) c = t[(c ^ buf[i]) & 0xff] ^ (c >> 8); return ~c; }
/* memcpy-heavy: struct-sized and block copies between the two halves, as a runtime's marshalling does. */
typedef struct { u64 a, b, c, d, e, f, g, h; } rec64;
u64 w_memcpy(u8 *buf, u64 n) {
  u64 h = n / 2, s = 0;
  for (int r = 0; r < 4; r++) { __builtin_memcpy(buf + h, buf, h); __builtin_memcpy(buf, buf + h + 1, h - 1); }
  rec64 *v = (rec64 *)buf; for (u64 i = 0; i + 1 < n / sizeof(rec64); i++) { rec64 t = v[i]; v[i] = v[i + 1]; v[i + 1] = t; }
  for (u64 i = 0; i < n; i += 4096) s += buf[i];
  return s;
}
static void qs(i32 *v, long lo, long hi) { while (lo < hi) { i32 p = v[(lo + hi) / 2]; long i = lo, j = hi; while (i <= j) { while (v[i] < p) i++; while (v[j] > p) j--; if (i <= j) { i32 t = v[i]; v[i] = v[j]; v[j] = t; i++; j--; } } if (j - lo < hi - i) { qs(v, lo, j); lo = i; } else { qs(v, i, hi); hi = j; } } }
u64 w_sort(u8 *buf, u64 n) { i32 *v = (i32 *)buf; u64 m = n / 4; qs(v, 0, (long)m - 1); return (u64)(u32)v[0] ^ (u64)(u32)v[m - 1] << 32; }
/* Scalar doubles (SSE2): a Horner polynomial, a division and a comparison per element. */
u64 w_fp(u8 *buf, u64 n) {
  double acc = 0, mx = 0; const u32 *v = (const u32 *)buf;
  for (u64 i = 0; i < n / 4; i++) {
    double x = (double)(v[i] & 0xffff) / 65536.0;
    double p = ((((0.25 * x - 0.5) * x + 1.25) * x - 2.0) * x + 3.0);
    acc += p / (1.0 + x);
    if (p > mx) mx = p;
  }
  return (u64)(acc * 1000.0) ^ (u64)(mx * 1e6);
}
