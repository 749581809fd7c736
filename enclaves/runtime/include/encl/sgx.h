/*
 * SDM-defined SGX structures and constants the trusted runtime uses (SDM Vol. 3D ch. 38; Linux
 * arch/x86/include/asm/sgx.h and src/hw/sgx/layout/ have the same layouts). Only architecture here.
 */
#ifndef ENCL_SGX_H
#define ENCL_SGX_H

#include <stddef.h>
#include <stdint.h>

/* ENCLU leaves, SDM Vol. 3D §41.3 Table 41-2. */
#define SGX_EREPORT	0
#define SGX_EGETKEY	1
#define SGX_EENTER	2
#define SGX_ERESUME	3
#define SGX_EEXIT	4
#define SGX_EACCEPT	5
#define SGX_EMODPE	6

/* KEYREQUEST.KEYNAME and KEYPOLICY, SDM Vol. 3D §38.17.1. */
#define SGX_KEYNAME_REPORT	3
#define SGX_KEYNAME_SEAL	4
#define SGX_KEYPOLICY_MRENCLAVE	0x0001
#define SGX_KEYPOLICY_MRSIGNER	0x0002

/* MISCSELECT.EXINFO, SDM Vol. 3D §38.7.2. */
#define SGX_MISC_EXINFO		0x1

/* EXITINFO, SDM Vol. 3D §38.9.2 Table 38-11. */
#define SGX_EXITINFO_VECTOR(x)	((x) & 0xff)
#define SGX_EXITINFO_TYPE(x)	(((x) >> 8) & 0x7)
#define SGX_EXITINFO_VALID	0x80000000u

/* Exception vectors reported in EXITINFO. */
#define SGX_VECTOR_DE	0
#define SGX_VECTOR_DB	1
#define SGX_VECTOR_BP	3
#define SGX_VECTOR_UD	6
#define SGX_VECTOR_GP	13
#define SGX_VECTOR_PF	14

/* SECINFO.FLAGS, SDM Vol. 3D §38.11. */
#define SGX_SECINFO_R		0x001
#define SGX_SECINFO_W		0x002
#define SGX_SECINFO_X		0x004
#define SGX_SECINFO_PENDING	0x008
#define SGX_SECINFO_MODIFIED	0x010
#define SGX_SECINFO_PR		0x020
#define SGX_SECINFO_TCS		0x100
#define SGX_SECINFO_REG		0x200
#define SGX_SECINFO_TRIM	0x400

/* Status codes in RAX (SDM Vol. 3D §40.1.4; Linux asm/sgx.h enum sgx_return_code). */
#define SGX_INVALID_ATTRIBUTE	2
#define SGX_INVALID_CPUSVN	32
#define SGX_INVALID_ISVSVN	64
#define SGX_INVALID_KEYNAME	256

/** GPRSGX: the last 184 bytes of an SSA frame (SDM Vol. 3D §38.9.1 Table 38-10). */
struct sgx_gprsgx {
	uint64_t rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rflags, rip;
	uint64_t ursp, urbp;
	uint32_t exitinfo;
	uint8_t reserved[3];
	uint8_t aexnotify;
	uint64_t fsbase, gsbase;
};

/** EXINFO: 16 bytes just below GPRSGX when MISCSELECT.EXINFO is set (SDM Vol. 3D §38.9.3 Table 38-12). */
struct sgx_exinfo {
	uint64_t maddr;
	uint32_t errcd;
	uint32_t reserved;
};

/** SECINFO: 64 bytes, 64-byte aligned (SDM Vol. 3D §38.11). */
struct sgx_secinfo {
	uint64_t flags;
	uint8_t reserved[56];
} __attribute__((aligned(64)));

/** KEYREQUEST: 512 bytes, 512-byte aligned (SDM Vol. 3D §38.17 Table 38-23). */
struct sgx_keyrequest {
	uint16_t keyname;
	uint16_t keypolicy;
	uint16_t isvsvn;
	uint16_t reserved1;
	uint8_t cpusvn[16];
	uint64_t attributemask_flags;
	uint64_t attributemask_xfrm;
	uint8_t keyid[32];
	uint32_t miscmask;
	uint16_t configsvn;
	uint8_t reserved2[434];
} __attribute__((aligned(512)));

/** TARGETINFO: 512 bytes, 512-byte aligned (SDM Vol. 3D §38.16 Table 38-22). */
struct sgx_targetinfo {
	uint8_t measurement[32];
	uint64_t attributes_flags;
	uint64_t attributes_xfrm;
	uint16_t reserved1;
	uint16_t configsvn;
	uint32_t miscselect;
	uint8_t reserved2[8];
	uint8_t configid[64];
	uint8_t reserved3[384];
} __attribute__((aligned(512)));

/** REPORTDATA: 64 bytes, 128-byte aligned (SDM Vol. 3D §41.3 EREPORT). */
struct sgx_reportdata {
	uint8_t d[64];
} __attribute__((aligned(128)));

/** REPORT: 432 bytes, 512-byte aligned (SDM Vol. 3D §38.15 Table 38-21). */
struct sgx_report {
	uint8_t cpusvn[16];
	uint32_t miscselect;
	uint8_t reserved1[12];
	uint8_t isvextprodid[16];
	uint64_t attributes_flags;
	uint64_t attributes_xfrm;
	uint8_t mrenclave[32];
	uint8_t reserved2[32];
	uint8_t mrsigner[32];
	uint8_t reserved3[32];
	uint8_t configid[64];
	uint16_t isvprodid;
	uint16_t isvsvn;
	uint16_t configsvn;
	uint8_t reserved4[42];
	uint8_t isvfamilyid[16];
	uint8_t reportdata[64];
	uint8_t keyid[32];
	uint8_t mac[16];
} __attribute__((aligned(512)));

#define SGX_REPORT_SIZE		432
#define SGX_TARGETINFO_SIZE	512
#define SGX_REPORTDATA_SIZE	64
#define SGX_KEYREQUEST_SIZE	512
#define SGX_REPORT_MACED_SIZE	384	/* CMAC covers REPORT bytes [0, 384) */

_Static_assert(sizeof(struct sgx_gprsgx) == 184, "GPRSGX is 184 bytes");
_Static_assert(offsetof(struct sgx_gprsgx, rflags) == 128, "GPRSGX.RFLAGS");
_Static_assert(offsetof(struct sgx_gprsgx, rip) == 136, "GPRSGX.RIP");
_Static_assert(offsetof(struct sgx_gprsgx, ursp) == 144, "GPRSGX.URSP");
_Static_assert(offsetof(struct sgx_gprsgx, urbp) == 152, "GPRSGX.URBP");
_Static_assert(offsetof(struct sgx_gprsgx, exitinfo) == 160, "GPRSGX.EXITINFO");
_Static_assert(offsetof(struct sgx_gprsgx, fsbase) == 168, "GPRSGX.FSBASE");
_Static_assert(sizeof(struct sgx_exinfo) == 16, "EXINFO is 16 bytes");
_Static_assert(sizeof(struct sgx_secinfo) == 64, "SECINFO is 64 bytes");
_Static_assert(sizeof(struct sgx_keyrequest) == SGX_KEYREQUEST_SIZE, "KEYREQUEST is 512 bytes");
_Static_assert(offsetof(struct sgx_keyrequest, cpusvn) == 8, "KEYREQUEST.CPUSVN");
_Static_assert(offsetof(struct sgx_keyrequest, keyid) == 40, "KEYREQUEST.KEYID");
_Static_assert(offsetof(struct sgx_keyrequest, miscmask) == 72, "KEYREQUEST.MISCMASK");
_Static_assert(offsetof(struct sgx_keyrequest, configsvn) == 76, "KEYREQUEST.CONFIGSVN");
_Static_assert(sizeof(struct sgx_targetinfo) == SGX_TARGETINFO_SIZE, "TARGETINFO is 512 bytes");
_Static_assert(offsetof(struct sgx_targetinfo, miscselect) == 52, "TARGETINFO.MISCSELECT");
_Static_assert(offsetof(struct sgx_report, attributes_flags) == 48, "REPORT.ATTRIBUTES");
_Static_assert(offsetof(struct sgx_report, mrsigner) == 128, "REPORT.MRSIGNER");
_Static_assert(offsetof(struct sgx_report, isvprodid) == 256, "REPORT.ISVPRODID");
_Static_assert(offsetof(struct sgx_report, isvsvn) == 258, "REPORT.ISVSVN");
_Static_assert(offsetof(struct sgx_report, reportdata) == 320, "REPORT.REPORTDATA");
_Static_assert(offsetof(struct sgx_report, keyid) == 384, "REPORT.KEYID");
_Static_assert(offsetof(struct sgx_report, mac) == 416, "REPORT.MAC");

#endif /* ENCL_SGX_H */
