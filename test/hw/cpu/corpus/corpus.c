/*
 * Differential-test corpus: freestanding C compiled once to an object, linked both into a native driver and
 * into a static-pie ELF the interpreter runs. Every test function has the signature
 *     u64 t_NAME(u64 a, u64 b, u8 *buf, u64 n)      (or double d_NAME(double x, double y, u8 *buf, u64 n))
 * and may read and write buf[0..n). The harness compares return values and buf exactly.
 */
typedef unsigned long u64;
typedef long i64;
typedef unsigned int u32;
typedef int i32;
typedef unsigned short u16;
typedef short i16;
typedef unsigned char u8;
typedef signed char i8;
typedef unsigned long size_t;

#define NOLDP __attribute__((optimize("no-tree-loop-distribute-patterns")))

NOLDP void *memcpy(void *d, const void *s, size_t n) {
  u8 *dd = d; const u8 *ss = s;
  for (size_t i = 0; i < n; i++) dd[i] = ss[i];
  return d;
}
NOLDP void *memmove(void *d, const void *s, size_t n) {
  u8 *dd = d; const u8 *ss = s;
  if (dd < ss) for (size_t i = 0; i < n; i++) dd[i] = ss[i];
  else for (size_t i = n; i > 0; i--) dd[i - 1] = ss[i - 1];
  return d;
}
NOLDP void *memset(void *d, int c, size_t n) {
  u8 *dd = d;
  for (size_t i = 0; i < n; i++) dd[i] = (u8)c;
  return d;
}
NOLDP int memcmp(const void *a, const void *b, size_t n) {
  const u8 *x = a, *y = b;
  for (size_t i = 0; i < n; i++) if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}
NOLDP size_t strlen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

/* libm subset: with -fno-math-errno gcc inlines sqrt (SQRTSD) and, for x86-64-v2, floor/ceil/trunc (ROUNDSD). */
double sqrt(double x) { return __builtin_sqrt(x); }
double floor(double x) { if (!(x > -4.5e15 && x < 4.5e15)) return x; double t = (double)(i64)x; return t > x ? t - 1 : t; }
double ceil(double x) { if (!(x > -4.5e15 && x < 4.5e15)) return x; double t = (double)(i64)x; return t < x ? t + 1 : t; }
double trunc(double x) { if (!(x > -4.5e15 && x < 4.5e15)) return x; return (double)(i64)x; }
double round(double x) { return x < 0 ? -floor(-x + 0.5) : floor(x + 0.5); }
long lrint(double x) { return (long)round(x); }

/* ---- SHA-256 (FIPS 180-4) ---- */
static const u32 K[64] = {
  0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,0xd807aa98,0x12835b01,
  0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,
  0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,
  0x06ca6351,0x14292967,0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
  0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,0x19a4c116,0x1e376c08,
  0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,
  0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2};
#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
static void sha256_block(u32 *h, const u8 *p) {
  u32 w[64];
  for (int i = 0; i < 16; i++) w[i] = (u32)p[4*i] << 24 | (u32)p[4*i+1] << 16 | (u32)p[4*i+2] << 8 | p[4*i+3];
  for (int i = 16; i < 64; i++) {
    u32 s0 = ROR(w[i-15], 7) ^ ROR(w[i-15], 18) ^ (w[i-15] >> 3);
    u32 s1 = ROR(w[i-2], 17) ^ ROR(w[i-2], 19) ^ (w[i-2] >> 10);
    w[i] = w[i-16] + s0 + w[i-7] + s1;
  }
  u32 a=h[0],b=h[1],c=h[2],d=h[3],e=h[4],f=h[5],g=h[6],hh=h[7];
  for (int i = 0; i < 64; i++) {
    u32 t1 = hh + (ROR(e,6) ^ ROR(e,11) ^ ROR(e,25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
    u32 t2 = (ROR(a,2) ^ ROR(a,13) ^ ROR(a,22)) + ((a & b) ^ (a & c) ^ (b & c));
    hh=g; g=f; f=e; e=d+t1; d=c; c=b; b=a; a=t1+t2;
  }
  h[0]+=a; h[1]+=b; h[2]+=c; h[3]+=d; h[4]+=e; h[5]+=f; h[6]+=g; h[7]+=hh;
}
void sha256(const u8 *msg, u64 len, u8 *out) {
  u32 h[8] = {0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19};
  u64 i = 0;
  for (; i + 64 <= len; i += 64) sha256_block(h, msg + i);
  u8 tail[128];
  u64 r = len - i;
  memcpy(tail, msg + i, r);
  tail[r] = 0x80;
  u64 tl = r + 1 + 8 <= 64 ? 64 : 128;
  memset(tail + r + 1, 0, tl - r - 1);
  u64 bits = len * 8;
  for (int k = 0; k < 8; k++) tail[tl - 1 - k] = (u8)(bits >> (8 * k));
  sha256_block(h, tail);
  if (tl == 128) sha256_block(h, tail + 64);
  for (int k = 0; k < 8; k++) { out[4*k] = h[k] >> 24; out[4*k+1] = h[k] >> 16; out[4*k+2] = h[k] >> 8; out[4*k+3] = h[k]; }
}
u64 t_sha256(u64 a, u64 b, u8 *buf, u64 n) {
  u8 out[32];
  sha256(buf, n, out);
  if (n >= 32) memcpy(buf, out, 32);
  u64 r = 0;
  for (int k = 0; k < 8; k++) r = r << 8 | out[k];
  return r;
}

/* ---- CRC32 (IEEE, reflected) ---- */
static u32 crc_table[256];
u32 crc32_update(u32 crc, const u8 *p, u64 n) {
  if (!crc_table[1]) for (u32 i = 0; i < 256; i++) { u32 c = i; for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >> 1) : c >> 1; crc_table[i] = c; }
  crc = ~crc;
  for (u64 i = 0; i < n; i++) crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}
u64 t_crc32(u64 a, u64 b, u8 *buf, u64 n) { return crc32_update((u32)a, buf, n); }
u64 t_crc32_bitwise(u64 a, u64 b, u8 *buf, u64 n) {
  u32 c = ~(u32)a;
  for (u64 i = 0; i < n; i++) { c ^= buf[i]; for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320 & -(c & 1)); }
  return ~c;
}

/* ---- mem* and strings ---- */
u64 t_memcpy(u64 a, u64 b, u8 *buf, u64 n) { u64 h = n / 2; memcpy(buf + h, buf, h); return memcmp(buf, buf + h, h); }
u64 t_memmove(u64 a, u64 b, u8 *buf, u64 n) { if (n < 4) return 0; u64 s = a % (n / 2 + 1); memmove(buf + s, buf, n - s); memmove(buf, buf + (b % (n / 2 + 1)), n / 2); return buf[0]; }
u64 t_memset(u64 a, u64 b, u8 *buf, u64 n) { u64 s = a % (n + 1); memset(buf + s, (int)b, n - s); return buf[n ? n - 1 : 0]; }
u64 t_memcmp(u64 a, u64 b, u8 *buf, u64 n) { u64 h = n / 2; i64 r = memcmp(buf, buf + h, h); return (u64)r; }
u64 t_strlen(u64 a, u64 b, u8 *buf, u64 n) { if (!n) return 0; buf[n - 1] = 0; for (u64 i = 0; i < n; i++) if (buf[i] == (u8)a) buf[i] = 0; return strlen((char *)buf); }
u64 t_toupper(u64 a, u64 b, u8 *buf, u64 n) { u64 c = 0; for (u64 i = 0; i < n; i++) { if (buf[i] >= 'a' && buf[i] <= 'z') { buf[i] -= 32; c++; } } return c; }
u64 t_fnv(u64 a, u64 b, u8 *buf, u64 n) { u64 h = 0xcbf29ce484222325ul ^ a; for (u64 i = 0; i < n; i++) { h ^= buf[i]; h *= 0x100000001b3ul; } return h; }

/* ---- sorting ---- */
static void isort(u32 *v, u64 n) { for (u64 i = 1; i < n; i++) { u32 x = v[i]; u64 j = i; while (j > 0 && v[j-1] > x) { v[j] = v[j-1]; j--; } v[j] = x; } }
static void qsort_i32(i32 *v, i64 lo, i64 hi) {
  while (lo < hi) {
    i32 p = v[(lo + hi) / 2]; i64 i = lo, j = hi;
    while (i <= j) { while (v[i] < p) i++; while (v[j] > p) j--; if (i <= j) { i32 t = v[i]; v[i] = v[j]; v[j] = t; i++; j--; } }
    if (j - lo < hi - i) { qsort_i32(v, lo, j); lo = i; } else { qsort_i32(v, i, hi); hi = j; }
  }
}
u64 t_isort(u64 a, u64 b, u8 *buf, u64 n) { isort((u32 *)buf, n / 4); u64 s = 0; for (u64 i = 0; i < n / 4; i++) s = s * 31 + ((u32 *)buf)[i]; return s; }
u64 t_qsort(u64 a, u64 b, u8 *buf, u64 n) { if (n >= 8) qsort_i32((i32 *)buf, 0, (i64)(n / 4) - 1); return ((i32 *)buf)[0]; }
u64 t_sort16(u64 a, u64 b, u8 *buf, u64 n) { i16 *v = (i16 *)buf; u64 m = n / 2; for (u64 i = 0; i < m; i++) for (u64 j = i + 1; j < m; j++) if (v[j] < v[i]) { i16 t = v[i]; v[i] = v[j]; v[j] = t; } return m ? (u64)(i64)v[m - 1] : 0; }

/* ---- 64- and 128-bit arithmetic ---- */
u64 t_arith64(u64 a, u64 b, u8 *buf, u64 n) {
  u64 r = a * b + (a ^ (b >> 7)) - (b << 3);
  if (b) r ^= a / b + a % b;
  i64 sa = (i64)a, sb = (i64)b;
  if (sb && !(sa == (-9223372036854775807L - 1) && sb == -1)) r += (u64)(sa / sb) ^ (u64)(sa % sb);
  r += (u64)(sa >> (b & 63)) + (a >> (b & 63)) + (a << (a & 63));
  r ^= (a << 13 | a >> 51) + (b >> 17 | b << 47);
  return r;
}
u64 t_arith32(u64 a, u64 b, u8 *buf, u64 n) {
  u32 x = (u32)a, y = (u32)b; i32 sx = (i32)x, sy = (i32)y;
  u32 r = x * y + (x >> (y & 31)) - (y << (x & 31));
  if (y) r ^= x / y + x % y;
  if (sy && !(sx == (-2147483647 - 1) && sy == -1)) r += (u32)(sx / sy) - (u32)(sx % sy);
  r += (u32)(sx >> (y & 31));
  u16 p = (u16)a, q = (u16)b; i16 sp = (i16)p, sq = (i16)q;
  r += (u16)(p * q) + (q ? p / q : 0) + (sq && !(sp == -32768 && sq == -1) ? (u16)(sp / sq) : 0);
  u8 c = (u8)a, d = (u8)(b >> 8); i8 sc = (i8)c, sd = (i8)d;
  r += (u8)(c * d) + (d ? c % d : 0) + (sd && !(sc == -128 && sd == -1) ? (u8)(sc / sd) : 0);
  return r;
}
u64 t_div_const(u64 a, u64 b, u8 *buf, u64 n) {
  i64 s = (i64)a; i32 t = (i32)b;
  return a / 7 + a % 10 + (u64)(s / 3) + (u64)(s % 1000) + (u64)(t / 5) + (u64)(t % 9) + (u32)b / 1000000007u;
}
u64 t_int128(u64 a, u64 b, u8 *buf, u64 n) {
  unsigned __int128 x = (unsigned __int128)a * b;
  __int128 y = (__int128)(i64)a * (i64)b;
  u64 r = (u64)(x >> 64) ^ (u64)x ^ (u64)((unsigned __int128)y >> 64);
  unsigned __int128 big = ((unsigned __int128)a << 64) | b;
  if (b) r += (u64)(big / b) + (u64)(big % b);
  if (a >> 32) r ^= (u64)(big / (a >> 32));
  return r;
}
u64 t_mulhi(u64 a, u64 b, u8 *buf, u64 n) {
  u64 h = (u64)(((unsigned __int128)a * b) >> 64);
  i64 sh = (i64)(((__int128)(i64)a * (i64)b) >> 64);
  return h ^ (u64)sh ^ (u64)((i64)a * 12345) ^ ((u32)a * (u64)(u32)b);
}

/* ---- bit tricks ---- */
u64 t_bits(u64 a, u64 b, u8 *buf, u64 n) {
  u64 r = (u64)__builtin_popcountll(a) + (u64)__builtin_parityll(b);
  if (a) r += (u64)__builtin_ctzll(a) * 3 + (u64)__builtin_clzll(a) * 5;
  if ((u32)b) r += (u64)__builtin_ctz((u32)b) * 7 + (u64)__builtin_clz((u32)b) * 11;
  r ^= __builtin_bswap64(a) + __builtin_bswap32((u32)b) + __builtin_bswap16((u16)a);
  r += (a & -a) ^ (b & (b - 1)) ^ (a | (a + 1));
  return r;
}
u64 t_bitfield(u64 a, u64 b, u8 *buf, u64 n) {
  struct { u64 x : 13; u64 y : 29; u64 z : 22; } s;
  s.x = a; s.y = b; s.z = a >> 20;
  s.x += s.z; s.y ^= s.x;
  return (u64)s.x * 1000003 + s.y + s.z;
}
u64 t_bitarr(u64 a, u64 b, u8 *buf, u64 n) {
  u64 *w = (u64 *)buf; u64 m = n / 8 * 64; if (!m) return 0;
  for (u64 k = 0; k < 64; k++) { u64 i = (a * k + b) % m; w[i / 64] ^= 1ul << (i % 64); }
  u64 c = 0; for (u64 i = 0; i < m; i++) c += (w[i / 64] >> (i % 64)) & 1;
  return c;
}

/* ---- switch tables and recursion ---- */
u64 t_switch(u64 a, u64 b, u8 *buf, u64 n) {
  u64 r = 0;
  for (u64 i = 0; i < 40; i++) {
    switch ((a + i * b) % 13) {
      case 0: r += 3; break; case 1: r ^= i; break; case 2: r *= 5; break; case 3: r -= 7; break;
      case 4: r = r << 1 | r >> 63; break; case 5: r += a; break; case 6: r ^= b; break; case 7: r += i * i; break;
      case 8: r = ~r; break; case 9: r += 0x9e3779b97f4a7c15ul; break; case 10: r >>= 3; break; case 11: r |= 1; break;
      default: r -= i;
    }
  }
  return r;
}
static u64 ack(u64 m, u64 n) { return m == 0 ? n + 1 : n == 0 ? ack(m - 1, 1) : ack(m - 1, ack(m, n - 1)); }
static u64 fib(u64 n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
u64 t_recurse(u64 a, u64 b, u8 *buf, u64 n) { return ack(2, a % 20) + fib(b % 18); }
static u64 gcd(u64 a, u64 b) { return b ? gcd(b, a % b) : a; }
u64 t_gcd(u64 a, u64 b, u8 *buf, u64 n) { return gcd(a, b) + gcd(b | 1, a >> 3); }

/* ---- structs ---- */
struct rec { u64 id; u32 v[5]; u16 tag; u8 flag; double w; };
u64 t_structs(u64 a, u64 b, u8 *buf, u64 n) {
  struct rec r[6];
  for (int k = 0; k < 6; k++) { r[k].id = a + k; for (int j = 0; j < 5; j++) r[k].v[j] = (u32)(b >> j) + k; r[k].tag = (u16)(a >> k); r[k].flag = (u8)k; r[k].w = (double)k * 0.5; }
  struct rec t = r[a % 6]; r[a % 6] = r[b % 6]; r[b % 6] = t;
  if (n >= sizeof(struct rec)) memcpy(buf, &r[2], sizeof(struct rec));
  u64 s = 0; for (int k = 0; k < 6; k++) s = s * 131 + r[k].id + r[k].v[k % 5] + r[k].tag + r[k].flag;
  return s;
}

/* ---- vectorisable loops (gcc emits SSE2 at -O2/-O3) ---- */
u64 t_vsum8(u64 a, u64 b, u8 *buf, u64 n) { u32 s = 0; for (u64 i = 0; i < n; i++) s += buf[i]; return s; }
u64 t_vadd32(u64 a, u64 b, u8 *buf, u64 n) { u32 *v = (u32 *)buf; u64 m = n / 4; for (u64 i = 0; i < m; i++) v[i] = v[i] * (u32)a + (u32)b; u32 x = 0; for (u64 i = 0; i < m; i++) x ^= v[i]; return x; }
u64 t_vmax16(u64 a, u64 b, u8 *buf, u64 n) { i16 *v = (i16 *)buf; i16 mx = -32768; u16 umx = 0; for (u64 i = 0; i < n / 2; i++) { if (v[i] > mx) mx = v[i]; if ((u16)v[i] > umx) umx = (u16)v[i]; } return (u64)(i64)mx ^ ((u64)umx << 20); }
u64 t_vcount(u64 a, u64 b, u8 *buf, u64 n) { u64 c = 0; for (u64 i = 0; i < n; i++) c += buf[i] == (u8)a; return c; }
u64 t_vmul64(u64 a, u64 b, u8 *buf, u64 n) { u64 *v = (u64 *)buf; u64 s = 0; for (u64 i = 0; i < n / 8; i++) { v[i] = v[i] * a + (v[i] >> 3); s += v[i]; } return s; }
u64 t_vshift(u64 a, u64 b, u8 *buf, u64 n) { i32 *v = (i32 *)buf; for (u64 i = 0; i < n / 4; i++) v[i] = (v[i] >> 3) + ((u32)v[i] >> 5) + (v[i] << 2); return (u64)v[0]; }
u64 t_vminmax8(u64 a, u64 b, u8 *buf, u64 n) { u8 lo = 255, hi = 0; for (u64 i = 0; i < n; i++) { if (buf[i] < lo) lo = buf[i]; if (buf[i] > hi) hi = buf[i]; } return lo | hi << 8; }
u64 t_vabs(u64 a, u64 b, u8 *buf, u64 n) { i8 *v = (i8 *)buf; u32 s = 0; for (u64 i = 0; i < n; i++) s += (u32)(v[i] < 0 ? -v[i] : v[i]); return s; }
u64 t_vwiden(u64 a, u64 b, u8 *buf, u64 n) { i16 *v = (i16 *)buf; i64 s = 0; for (u64 i = 0; i < n / 2; i++) s += (i64)v[i] * (i32)a; return (u64)s; }
u64 t_vreverse(u64 a, u64 b, u8 *buf, u64 n) { for (u64 i = 0; i < n / 2; i++) { u8 t = buf[i]; buf[i] = buf[n - 1 - i]; buf[n - 1 - i] = t; } return buf[0]; }
u64 t_vsat(u64 a, u64 b, u8 *buf, u64 n) { for (u64 i = 0; i < n; i++) { u32 x = buf[i] + (u8)a; buf[i] = x > 255 ? 255 : x; } return buf[0]; }

/* ---- floating point (SSE2 scalar and packed) ---- */
double d_poly(double x, double y, u8 *buf, u64 n) { double r = 0; for (int k = 0; k < 8; k++) r = r * x + (double)k * y - 1.25; return r; }
double d_dot(double x, double y, u8 *buf, u64 n) { double *v = (double *)buf; double s = x; for (u64 i = 0; i + 1 < n / 8; i += 2) s += v[i] * v[i + 1]; return s; }
double d_sqrt(double x, double y, u8 *buf, u64 n) { return __builtin_sqrt(x < 0 ? -x : x) + __builtin_sqrt(y * y + 1.0) / (x != 0 ? x : 1.0); }
double d_conv(double x, double y, u8 *buf, u64 n) {
  i64 i = (x > -9e18 && x < 9e18) ? (i64)x : 0; i32 j = (y > -2e9 && y < 2e9) ? (i32)y : 0;
  u64 u = (x >= 0 && x < 1.8e19) ? (u64)x : 0; float f = (float)x; u32 uj = (u32)(j < 0 ? -j : j);
  return (double)i + (double)j * 0.5 + (double)u / 3.0 + (double)f + (double)(float)y + (double)uj + (double)(u64)(i < 0 ? -i : i);
}
double d_minmax(double x, double y, u8 *buf, u64 n) { double a = x < y ? x : y; double b = x > y ? x : y; return a * 3 - b + (x == y) + (x <= y ? 0.25 : 0.125); }
double d_float(double x, double y, u8 *buf, u64 n) { float a = (float)x, b = (float)y; float r = a * b + a / (b != 0 ? b : 1.0f) - b; for (int k = 0; k < 4; k++) r = r * 0.75f + a; return (double)r; }
double d_vsaxpy(double x, double y, u8 *buf, u64 n) { float *v = (float *)buf; float s = 0; for (u64 i = 0; i + 1 < n / 4; i += 2) { v[i] = v[i] * (float)x + v[i + 1]; } for (u64 i = 0; i < n / 4; i++) s += v[i] > 0 ? v[i] : 0; return (double)s; }
double d_vdouble(double x, double y, u8 *buf, u64 n) { double *v = (double *)buf; for (u64 i = 0; i < n / 8; i++) v[i] = v[i] * x + y; double m = 0; for (u64 i = 0; i < n / 8; i++) m = v[i] > m ? v[i] : m; return m; }
double d_cmp(double x, double y, u8 *buf, u64 n) { int c = (x < y) + 2 * (x > y) + 4 * (x == y) + 8 * (x != y) + 16 * (x <= y) + 32 * (x >= y); return (double)c + (x != x ? 100.0 : 0.0); }
double d_round(double x, double y, u8 *buf, u64 n) { return __builtin_floor(x) + 3 * __builtin_ceil(y) + 5 * __builtin_trunc(x * y) + 7 * __builtin_round(x) + (double)__builtin_lrint(y); }


