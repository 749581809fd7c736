// Every field of every hardware struct at the offset and size the SDM gives (Vol. 3D ch. 38 tables, as
// transcribed in ../shared/reference/sgx-isa.md §2), and the architectural bit values of ATTRIBUTES, MISCSELECT,
// XFRM, SECINFO, TCS.FLAGS, KEYREQUEST and the leaf numbers. The tables below are typed from the SDM, field by
// field; ATTRIBUTES (16 bytes) appears as its FLAGS and XFRM halves, as our codec reads them.
import { describe, expect, it } from 'vitest';
import {
  AttrFlags,
  EINITTOKEN,
  EnclsLeaf,
  EncluLeaf,
  EXINFO,
  GPRSGX,
  KEYREQUEST,
  KeyName,
  KeyPolicy,
  type Layout,
  MiscSelect,
  PAGEINFO,
  PageType,
  PCMD,
  REPORT,
  SECINFO,
  SECS,
  SecinfoFlags,
  SIGSTRUCT,
  TARGETINFO,
  TCS,
  TcsFlags,
  Xfrm,
} from '../../../src/hw/index';

type Row = readonly [name: string, offset: number, size: number];

const SDM: ReadonlyArray<readonly [Layout, readonly Row[]]> = [
  [
    SECS, // sgx-isa.md §2.1
    [
      ['size', 0, 8],
      ['baseAddr', 8, 8],
      ['ssaFrameSize', 16, 4],
      ['miscSelect', 20, 4],
      ['reserved1', 24, 24],
      ['attributes', 48, 8],
      ['xfrm', 56, 8],
      ['mrEnclave', 64, 32],
      ['reserved2', 96, 32],
      ['mrSigner', 128, 32],
      ['reserved3', 160, 32],
      ['configId', 192, 64],
      ['isvProdId', 256, 2],
      ['isvSvn', 258, 2],
      ['configSvn', 260, 2],
      ['reserved4', 262, 3834],
    ],
  ],
  [
    TCS, // sgx-isa.md §2.2
    [
      ['state', 0, 8],
      ['flags', 8, 8],
      ['ossa', 16, 8],
      ['cssa', 24, 4],
      ['nssa', 28, 4],
      ['oentry', 32, 8],
      ['aep', 40, 8],
      ['ofsBase', 48, 8],
      ['ogsBase', 56, 8],
      ['fsLimit', 64, 4],
      ['gsLimit', 68, 4],
      ['reserved', 72, 4024],
    ],
  ],
  [
    GPRSGX, // sgx-isa.md §2.3; byte 167 is the AEX-Notify enable of SSA.GPRSGX (reserved without AEX-Notify)
    [
      ['rax', 0, 8],
      ['rcx', 8, 8],
      ['rdx', 16, 8],
      ['rbx', 24, 8],
      ['rsp', 32, 8],
      ['rbp', 40, 8],
      ['rsi', 48, 8],
      ['rdi', 56, 8],
      ['r8', 64, 8],
      ['r9', 72, 8],
      ['r10', 80, 8],
      ['r11', 88, 8],
      ['r12', 96, 8],
      ['r13', 104, 8],
      ['r14', 112, 8],
      ['r15', 120, 8],
      ['rflags', 128, 8],
      ['rip', 136, 8],
      ['ursp', 144, 8],
      ['urbp', 152, 8],
      ['exitInfo', 160, 4],
      ['reserved', 164, 3],
      ['aexNotify', 167, 1],
      ['fsBase', 168, 8],
      ['gsBase', 176, 8],
    ],
  ],
  [
    EXINFO, // sgx-isa.md §2.3
    [
      ['maddr', 0, 8],
      ['errcd', 8, 4],
      ['reserved', 12, 4],
    ],
  ],
  [
    SECINFO, // sgx-isa.md §2.4
    [
      ['flags', 0, 8],
      ['reserved', 8, 56],
    ],
  ],
  [
    PAGEINFO, // sgx-isa.md §2.5
    [
      ['linAddr', 0, 8],
      ['srcPge', 8, 8],
      ['secinfo', 16, 8],
      ['secs', 24, 8],
    ],
  ],
  [
    PCMD, // sgx-isa.md §2.6
    [
      ['secinfo', 0, 64],
      ['enclaveId', 64, 8],
      ['reserved', 72, 40],
      ['mac', 112, 16],
    ],
  ],
  [
    SIGSTRUCT, // sgx-isa.md §2.7
    [
      ['header', 0, 16],
      ['vendor', 16, 4],
      ['date', 20, 4],
      ['header2', 24, 16],
      ['swDefined', 40, 4],
      ['reserved1', 44, 84],
      ['modulus', 128, 384],
      ['exponent', 512, 4],
      ['signature', 516, 384],
      ['miscSelect', 900, 4],
      ['miscMask', 904, 4],
      ['reserved2', 908, 4],
      ['isvFamilyId', 912, 16],
      ['attributes', 928, 8],
      ['xfrm', 936, 8],
      ['attributeMask', 944, 8],
      ['xfrmMask', 952, 8],
      ['enclaveHash', 960, 32],
      ['reserved3', 992, 16],
      ['isvExtProdId', 1008, 16],
      ['isvProdId', 1024, 2],
      ['isvSvn', 1026, 2],
      ['reserved4', 1028, 12],
      ['q1', 1040, 384],
      ['q2', 1424, 384],
    ],
  ],
  [
    EINITTOKEN, // sgx-isa.md §2.8
    [
      ['valid', 0, 4],
      ['reserved1', 4, 44],
      ['attributes', 48, 8],
      ['xfrm', 56, 8],
      ['mrEnclave', 64, 32],
      ['reserved2', 96, 32],
      ['mrSigner', 128, 32],
      ['reserved3', 160, 32],
      ['cpuSvnLe', 192, 16],
      ['isvProdIdLe', 208, 2],
      ['isvSvnLe', 210, 2],
      ['reserved4', 212, 24],
      ['maskedMiscSelectLe', 236, 4],
      ['maskedAttributesLe', 240, 8],
      ['maskedXfrmLe', 248, 8],
      ['keyId', 256, 32],
      ['mac', 288, 16],
    ],
  ],
  [
    REPORT, // sgx-isa.md §2.9
    [
      ['cpuSvn', 0, 16],
      ['miscSelect', 16, 4],
      ['reserved1', 20, 12],
      ['isvExtProdId', 32, 16],
      ['attributes', 48, 8],
      ['xfrm', 56, 8],
      ['mrEnclave', 64, 32],
      ['reserved2', 96, 32],
      ['mrSigner', 128, 32],
      ['reserved3', 160, 32],
      ['configId', 192, 64],
      ['isvProdId', 256, 2],
      ['isvSvn', 258, 2],
      ['configSvn', 260, 2],
      ['reserved4', 262, 42],
      ['isvFamilyId', 304, 16],
      ['reportData', 320, 64],
      ['keyId', 384, 32],
      ['mac', 416, 16],
    ],
  ],
  [
    TARGETINFO, // sgx-isa.md §2.9
    [
      ['measurement', 0, 32],
      ['attributes', 32, 8],
      ['xfrm', 40, 8],
      ['reserved1', 48, 2],
      ['configSvn', 50, 2],
      ['miscSelect', 52, 4],
      ['reserved2', 56, 8],
      ['configId', 64, 64],
      ['reserved3', 128, 384],
    ],
  ],
  [
    KEYREQUEST, // sgx-isa.md §2.10
    [
      ['keyName', 0, 2],
      ['keyPolicy', 2, 2],
      ['isvSvn', 4, 2],
      ['reserved1', 6, 2],
      ['cpuSvn', 8, 16],
      ['attributeMask', 24, 8],
      ['xfrmMask', 32, 8],
      ['keyId', 40, 32],
      ['miscMask', 72, 4],
      ['configSvn', 76, 2],
      ['reserved2', 78, 434],
    ],
  ],
];

describe('struct layouts against the SDM tables, field by field', () => {
  it.each(SDM.map(([l, rows]) => [l.name, l, rows] as const))('%s', (_name, layout, rows) => {
    const ours = layout.fields.map((f) => [f.name, f.offset, f.size] as const);
    expect(ours).toEqual(rows);
  });
});

describe('architectural bit values', () => {
  it('ATTRIBUTES.FLAGS, MISCSELECT and XFRM (sgx-isa.md §2.11, §2.1)', () => {
    expect(AttrFlags).toMatchObject({
      INIT: 1n,
      DEBUG: 2n,
      MODE64BIT: 4n,
      PROVISIONKEY: 0x10n,
      EINITTOKENKEY: 0x20n,
      CET: 0x40n,
      KSS: 0x80n,
      AEXNOTIFY: 0x400n,
    });
    expect(MiscSelect.EXINFO).toBe(1);
    expect([Xfrm.X87, Xfrm.SSE, Xfrm.AVX, Xfrm.LEGACY]).toEqual([1n, 2n, 4n, 3n]);
  });

  it('SECINFO.FLAGS and page types (sgx-isa.md §2.4)', () => {
    expect([SecinfoFlags.R, SecinfoFlags.W, SecinfoFlags.X]).toEqual([1n, 2n, 4n]);
    expect([SecinfoFlags.PENDING, SecinfoFlags.MODIFIED, SecinfoFlags.PR]).toEqual([8n, 0x10n, 0x20n]);
    expect([SecinfoFlags.PAGE_TYPE_SHIFT, SecinfoFlags.PAGE_TYPE_MASK]).toEqual([8n, 0xff00n]);
    // Bits 7:6 and 63:16 are reserved.
    expect(SecinfoFlags.RESERVED_MASK).toBe(0xffff_ffff_ffff_00c0n);
    expect(PageType).toMatchObject({ SECS: 0, TCS: 1, REG: 2, VA: 3, TRIM: 4 });
  });

  it('TCS.FLAGS, KEYNAME and KEYPOLICY (sgx-isa.md §2.2, §2.10)', () => {
    expect([TcsFlags.DBGOPTIN, TcsFlags.AEXNOTIFY]).toEqual([1n, 2n]);
    expect(KeyName).toMatchObject({ EINITTOKEN: 0, PROVISION: 1, PROVISION_SEAL: 2, REPORT: 3, SEAL: 4 });
    expect(KeyPolicy).toMatchObject({
      MRENCLAVE: 1,
      MRSIGNER: 2,
      NOISVPRODID: 4,
      CONFIGID: 8,
      ISVFAMILYID: 0x10,
      ISVEXTPRODID: 0x20,
    });
  });

  it('ENCLS and ENCLU leaf numbers (sgx-isa.md §1)', () => {
    expect(EnclsLeaf).toMatchObject({
      ECREATE: 0,
      EADD: 1,
      EINIT: 2,
      EREMOVE: 3,
      EDBGRD: 4,
      EDBGWR: 5,
      EEXTEND: 6,
      ELDB: 7,
      ELDU: 8,
      EBLOCK: 9,
      EPA: 0xa,
      EWB: 0xb,
      ETRACK: 0xc,
      EAUG: 0xd,
      EMODPR: 0xe,
      EMODT: 0xf,
    });
    expect(EncluLeaf).toMatchObject({
      EREPORT: 0,
      EGETKEY: 1,
      EENTER: 2,
      ERESUME: 3,
      EEXIT: 4,
      EACCEPT: 5,
      EMODPE: 6,
      EACCEPTCOPY: 7,
      EDECCSSA: 9,
    });
  });
});
