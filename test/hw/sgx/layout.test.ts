import { describe, expect, it } from 'vitest';
import {
  ALL_LAYOUTS,
  decode,
  EINITTOKEN,
  EXINFO,
  encode,
  GPRSGX,
  KEYREQUEST,
  type Layout,
  layoutTable,
  PAGEINFO,
  PCMD,
  REPORT,
  reservedAreZero,
  SECINFO,
  SECS,
  SIGSTRUCT,
  TARGETINFO,
  TCS,
} from '../../../src/hw/index';
import { hasGcc, runC } from '../../util/native';

// Sizes from the SDM Vol. 3D ch. 38 tables.
const SDM_SIZES: Array<[Layout, number]> = [
  [SECS, 4096],
  [TCS, 4096],
  [GPRSGX, 184],
  [EXINFO, 16],
  [SECINFO, 64],
  [PAGEINFO, 32],
  [PCMD, 128],
  [SIGSTRUCT, 1808],
  [EINITTOKEN, 304],
  [REPORT, 432],
  [TARGETINFO, 512],
  [KEYREQUEST, 512],
];

function off(l: Layout, name: string): number {
  const f = l.fields.find((x) => x.name === name);
  if (!f) throw new Error(`no field ${name}`);
  return f.offset;
}

describe('struct layouts', () => {
  it.each(SDM_SIZES)('%s has the SDM size', (layout, size) => {
    expect(layout.size, `${layout.name} size`).toBe(size);
    const last = layout.fields[layout.fields.length - 1]!;
    expect(last.offset + last.size, `${layout.name} last field end`).toBe(size);
  });

  it('every layout is covered by fields with no gaps', () => {
    for (const l of ALL_LAYOUTS) {
      let end = 0;
      for (const f of l.fields) {
        expect(f.offset, `${l.name}.${f.name} starts where the previous field ends`).toBe(end);
        end = f.offset + f.size;
      }
    }
  });

  it('matches the SDM offsets that software relies on', () => {
    const want: Array<[Layout, string, number]> = [
      [SECS, 'ssaFrameSize', 16],
      [SECS, 'attributes', 48],
      [SECS, 'mrEnclave', 64],
      [SECS, 'mrSigner', 128],
      [SECS, 'configId', 192],
      [SECS, 'isvProdId', 256],
      [SECS, 'isvSvn', 258],
      [TCS, 'ossa', 16],
      [TCS, 'cssa', 24],
      [TCS, 'nssa', 28],
      [TCS, 'oentry', 32],
      [TCS, 'ofsBase', 48],
      [TCS, 'fsLimit', 64],
      [GPRSGX, 'rflags', 128],
      [GPRSGX, 'rip', 136],
      [GPRSGX, 'ursp', 144],
      [GPRSGX, 'exitInfo', 160],
      [GPRSGX, 'aexNotify', 167],
      [GPRSGX, 'fsBase', 168],
      [PCMD, 'enclaveId', 64],
      [PCMD, 'mac', 112],
      [SIGSTRUCT, 'modulus', 128],
      [SIGSTRUCT, 'exponent', 512],
      [SIGSTRUCT, 'signature', 516],
      [SIGSTRUCT, 'miscSelect', 900],
      [SIGSTRUCT, 'attributes', 928],
      [SIGSTRUCT, 'enclaveHash', 960],
      [SIGSTRUCT, 'isvProdId', 1024],
      [SIGSTRUCT, 'q1', 1040],
      [SIGSTRUCT, 'q2', 1424],
      [EINITTOKEN, 'cpuSvnLe', 192],
      [EINITTOKEN, 'keyId', 256],
      [EINITTOKEN, 'mac', 288],
      [REPORT, 'attributes', 48],
      [REPORT, 'reportData', 320],
      [REPORT, 'keyId', 384],
      [REPORT, 'mac', 416],
      [TARGETINFO, 'miscSelect', 52],
      [KEYREQUEST, 'cpuSvn', 8],
      [KEYREQUEST, 'keyId', 40],
      [KEYREQUEST, 'miscMask', 72],
    ];
    for (const [l, name, o] of want) expect(off(l, name), `${l.name}.${name} offset`).toBe(o);
  });

  it('round-trips through the codec', () => {
    const secs = encode(SECS, {
      size: 0x4000n,
      baseAddr: 0x7f00_0000_0000n,
      ssaFrameSize: 1,
      attributes: 0x6n,
      xfrm: 3n,
    });
    const d = decode(SECS, secs);
    expect(d.size).toBe(0x4000n);
    expect(d.baseAddr).toBe(0x7f00_0000_0000n);
    expect(d.ssaFrameSize).toBe(1);
    expect(reservedAreZero(SECS, secs)).toBe(true);
    secs[300] = 1;
    expect(reservedAreZero(SECS, secs)).toBe(false);
  });

  it('renders a docs table', () => {
    expect(layoutTable(PAGEINFO)).toContain('| 24 | 8 | secs | u64 |');
  });

  // An independent oracle: gcc lays out C structs transcribed from the SDM tables (packed, as the kernel's
  // arch header declares them) and prints sizeof/offsetof.
  it.skipIf(!hasGcc())('agrees with gcc on C declarations of the SDM structs', () => {
    const src = `
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
typedef uint8_t u8; typedef uint16_t u16; typedef uint32_t u32; typedef uint64_t u64;
struct secs { u64 size, base; u32 ssa_frame_size, miscselect; u8 r1[24]; u64 attributes, xfrm; u8 mrenclave[32];
  u8 r2[32]; u8 mrsigner[32]; u8 r3[32]; u8 config_id[64]; u16 isv_prod_id, isv_svn, config_svn; u8 r4[3834]; } __attribute__((packed));
struct tcs { u64 state, flags, ossa; u32 cssa, nssa; u64 oentry, aep, ofs, ogs; u32 fsl, gsl; u8 r[4024]; } __attribute__((packed));
struct gprsgx { u64 rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15, rflags, rip, ursp, urbp;
  u32 exitinfo; u8 r[3]; u8 aexnotify; u64 fsbase, gsbase; } __attribute__((packed));
struct pcmd { u8 secinfo[64]; u64 enclave_id; u8 r[40]; u8 mac[16]; } __attribute__((packed));
struct sigstruct { u8 header[16]; u32 vendor, date; u8 header2[16]; u32 swdefined; u8 r1[84]; u8 modulus[384]; u32 exponent;
  u8 signature[384]; u32 miscselect, miscmask; u8 r2[4]; u8 familyid[16]; u64 attributes, xfrm, attrmask, xfrmmask;
  u8 enclavehash[32]; u8 r3[16]; u8 extprodid[16]; u16 isvprodid, isvsvn; u8 r4[12]; u8 q1[384]; u8 q2[384]; } __attribute__((packed));
struct report { u8 cpusvn[16]; u32 miscselect; u8 r1[12]; u8 extprodid[16]; u64 attributes, xfrm; u8 mrenclave[32]; u8 r2[32];
  u8 mrsigner[32]; u8 r3[32]; u8 configid[64]; u16 isvprodid, isvsvn, configsvn; u8 r4[42]; u8 familyid[16];
  u8 reportdata[64]; u8 keyid[32]; u8 mac[16]; } __attribute__((packed));
struct keyrequest { u16 keyname, keypolicy, isvsvn; u8 r1[2]; u8 cpusvn[16]; u64 attrmask, xfrmmask; u8 keyid[32];
  u32 miscmask; u16 configsvn; u8 r2[434]; } __attribute__((packed));
#define P(s, f) printf(#s "." #f " %zu\\n", offsetof(struct s, f))
#define S(s) printf(#s " %zu\\n", sizeof(struct s))
int main(void) {
  S(secs); S(tcs); S(gprsgx); S(pcmd); S(sigstruct); S(report); S(keyrequest);
  P(secs, attributes); P(secs, mrsigner); P(secs, isv_svn); P(tcs, oentry); P(tcs, fsl);
  P(gprsgx, rip); P(gprsgx, exitinfo); P(gprsgx, aexnotify); P(gprsgx, gsbase); P(pcmd, mac);
  P(sigstruct, exponent); P(sigstruct, miscselect); P(sigstruct, attributes); P(sigstruct, enclavehash);
  P(sigstruct, isvprodid); P(sigstruct, q2); P(report, attributes); P(report, reportdata); P(report, mac);
  P(keyrequest, keyid); P(keyrequest, miscmask);
  return 0;
}`;
    const lines = runC(src).trim().split('\n');
    const got = new Map(lines.map((l) => l.split(' ') as [string, string]).map(([k, v]) => [k, Number(v)]));
    const size: Record<string, Layout> = {
      secs: SECS,
      tcs: TCS,
      gprsgx: GPRSGX,
      pcmd: PCMD,
      sigstruct: SIGSTRUCT,
      report: REPORT,
      keyrequest: KEYREQUEST,
    };
    for (const [k, l] of Object.entries(size)) expect(l.size, `sizeof(struct ${k})`).toBe(got.get(k));
    const names: Record<string, [Layout, string]> = {
      'secs.attributes': [SECS, 'attributes'],
      'secs.mrsigner': [SECS, 'mrSigner'],
      'secs.isv_svn': [SECS, 'isvSvn'],
      'tcs.oentry': [TCS, 'oentry'],
      'tcs.fsl': [TCS, 'fsLimit'],
      'gprsgx.rip': [GPRSGX, 'rip'],
      'gprsgx.exitinfo': [GPRSGX, 'exitInfo'],
      'gprsgx.aexnotify': [GPRSGX, 'aexNotify'],
      'gprsgx.gsbase': [GPRSGX, 'gsBase'],
      'pcmd.mac': [PCMD, 'mac'],
      'sigstruct.exponent': [SIGSTRUCT, 'exponent'],
      'sigstruct.miscselect': [SIGSTRUCT, 'miscSelect'],
      'sigstruct.attributes': [SIGSTRUCT, 'attributes'],
      'sigstruct.enclavehash': [SIGSTRUCT, 'enclaveHash'],
      'sigstruct.isvprodid': [SIGSTRUCT, 'isvProdId'],
      'sigstruct.q2': [SIGSTRUCT, 'q2'],
      'report.attributes': [REPORT, 'attributes'],
      'report.reportdata': [REPORT, 'reportData'],
      'report.mac': [REPORT, 'mac'],
      'keyrequest.keyid': [KEYREQUEST, 'keyId'],
      'keyrequest.miscmask': [KEYREQUEST, 'miscMask'],
    };
    for (const [k, [l, f]] of Object.entries(names)) expect(off(l, f), `offsetof(${k})`).toBe(got.get(k));
  });
});
