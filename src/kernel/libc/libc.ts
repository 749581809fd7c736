/**
 * A small user-space helper for host programs (the part of glibc they would link against): scratch memory
 * in the process, C strings, and wrappers that marshal the uAPI structs sendmsg/recvmsg/wait4 take. It only
 * uses the Sys handle, like a real libc uses syscalls, and returns raw results (-errno on failure).
 * Not kernel code; it lives here because every layer above needs it and it depends on nothing else.
 */
import { decode, encode, encodeInto, PAGE_SIZE } from '../../hw/index';
import {
  CMSG_LEN,
  CMSG_SPACE,
  CMSGHDR,
  IOVEC,
  isErrorReturn,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MSGHDR,
  PROT_READ,
  PROT_WRITE,
  SCM_RIGHTS,
  SOL_SOCKET,
} from '../abi/index';
import type { Sys } from '../syscalls/sys';

const ARENA = 16 * PAGE_SIZE;

/** What recvmsg delivered. */
export interface Received {
  /** recvmsg's return: bytes, or -errno. */
  readonly ret: number;
  readonly data: Uint8Array;
  /** fds from an SCM_RIGHTS message. */
  readonly fds: number[];
  readonly msgFlags: number;
}

export class Libc {
  private arena = 0;
  private used = ARENA;

  constructor(readonly sys: Sys) {}

  /** malloc()-like scratch memory (never freed), 16-byte aligned. @returns the address, or -errno. */
  async alloc(n: number): Promise<number> {
    const size = Math.ceil(Math.max(n, 1) / 16) * 16;
    if (size > ARENA) {
      return this.sys.mmap(
        0,
        Math.ceil(size / PAGE_SIZE) * PAGE_SIZE,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS,
        -1,
        0,
      );
    }
    if (this.used + size > ARENA) {
      const a = await this.sys.mmap(0, ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (isErrorReturn(a)) return a;
      this.arena = a;
      this.used = 0;
    }
    const p = this.arena + this.used;
    this.used += size;
    return p;
  }

  /** Copies bytes into fresh scratch memory. @returns the address. */
  async bytes(b: Uint8Array): Promise<number> {
    const p = await this.alloc(b.length);
    if (isErrorReturn(p)) return p;
    await this.sys.store(p, b);
    return p;
  }

  /** A NUL-terminated UTF-8 string in process memory. */
  async cstr(s: string): Promise<number> {
    const enc = new TextEncoder().encode(s);
    const b = new Uint8Array(enc.length + 1);
    b.set(enc);
    return this.bytes(b);
  }

  async readU32(addr: number): Promise<number> {
    const b = await this.sys.load(addr, 4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  }

  async readI32(addr: number): Promise<number> {
    const b = await this.sys.load(addr, 4);
    return new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true);
  }

  async writeU32(addr: number, v: number): Promise<void> {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    await this.sys.store(addr, b);
  }

  /** LOCK CMPXCHG of a u32: stores `desired` if the word equals `expected`. @returns the old value. */
  async cmpxchgU32(addr: number, expected: number, desired: number): Promise<number> {
    const old = await this.sys.atomic(addr, 4, (b) => {
      const dv = new DataView(b.buffer, b.byteOffset, 4);
      if (dv.getUint32(0, true) === expected >>> 0) dv.setUint32(0, desired >>> 0, true);
      return b;
    });
    return new DataView(old.buffer, old.byteOffset, 4).getUint32(0, true);
  }

  /** LOCK XADD of a u32 (wrapping). @returns the old value. */
  async fetchAddU32(addr: number, delta: number): Promise<number> {
    const old = await this.sys.atomic(addr, 4, (b) => {
      const dv = new DataView(b.buffer, b.byteOffset, 4);
      dv.setUint32(0, (dv.getUint32(0, true) + delta) >>> 0, true);
      return b;
    });
    return new DataView(old.buffer, old.byteOffset, 4).getUint32(0, true);
  }

  /** memfd_create() with a JS string name. @returns the fd, or -errno. */
  async memfdCreate(name: string, flags = 0): Promise<number> {
    const p = await this.cstr(name);
    if (isErrorReturn(p)) return p;
    return this.sys.memfd_create(p, flags);
  }

  async readU64(addr: number): Promise<bigint> {
    const b = await this.sys.load(addr, 8);
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
  }

  async writeU64(addr: number, v: bigint): Promise<void> {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
    await this.sys.store(addr, b);
  }

  /** open() with a JS string path. */
  async open(path: string, flags: number, mode = 0): Promise<number> {
    const p = await this.cstr(path);
    if (isErrorReturn(p)) return p;
    return this.sys.open(p, flags, mode);
  }

  /** socketpair(); @returns [fd0, fd1], or -errno. */
  async socketpair(domain: number, type: number, protocol = 0): Promise<[number, number] | number> {
    const sv = await this.alloc(8);
    const r = await this.sys.socketpair(domain, type, protocol, sv);
    if (r < 0) return r;
    return [await this.readI32(sv), await this.readI32(sv + 4)];
  }

  /** sendmsg() of `data` with an SCM_RIGHTS message carrying `fds` (none when empty). */
  async sendmsg(fd: number, data: Uint8Array, fds: readonly number[] = [], flags = 0): Promise<number> {
    const buf = await this.bytes(data.length ? data : new Uint8Array(1));
    const iov = await this.bytes(encode(IOVEC, { iov_base: BigInt(buf), iov_len: BigInt(data.length) }));
    let control = 0;
    let controllen = 0;
    if (fds.length > 0) {
      controllen = CMSG_SPACE(fds.length * 4);
      const c = new Uint8Array(controllen);
      encodeInto(
        CMSGHDR,
        { cmsg_len: BigInt(CMSG_LEN(fds.length * 4)), cmsg_level: SOL_SOCKET, cmsg_type: SCM_RIGHTS },
        c,
      );
      const dv = new DataView(c.buffer);
      for (let i = 0; i < fds.length; i++) dv.setInt32(CMSGHDR.size + 4 * i, fds[i]!, true);
      control = await this.bytes(c);
    }
    const msg = await this.bytes(
      encode(MSGHDR, {
        msg_iov: BigInt(iov),
        msg_iovlen: 1n,
        msg_control: BigInt(control),
        msg_controllen: BigInt(controllen),
      }),
    );
    return this.sys.sendmsg(fd, msg, flags);
  }

  /** recvmsg() of up to `max` bytes with room for `maxFds` passed descriptors. */
  async recvmsg(fd: number, max: number, maxFds = 0, flags = 0): Promise<Received> {
    const buf = await this.alloc(Math.max(max, 1));
    const iov = await this.bytes(encode(IOVEC, { iov_base: BigInt(buf), iov_len: BigInt(max) }));
    const controllen = maxFds > 0 ? CMSG_SPACE(maxFds * 4) : 0;
    const control = controllen ? await this.alloc(controllen) : 0;
    const msgAddr = await this.bytes(
      encode(MSGHDR, {
        msg_iov: BigInt(iov),
        msg_iovlen: 1n,
        msg_control: BigInt(control),
        msg_controllen: BigInt(controllen),
      }),
    );
    const ret = await this.sys.recvmsg(fd, msgAddr, flags);
    if (ret < 0) return { ret, data: new Uint8Array(0), fds: [], msgFlags: 0 };
    const m = decode(MSGHDR, await this.sys.load(msgAddr, MSGHDR.size));
    const data = ret > 0 ? await this.sys.load(buf, Math.min(ret, max)) : new Uint8Array(0);
    const fds: number[] = [];
    const used = Number(m.msg_controllen);
    if (used >= CMSGHDR.size) {
      const c = await this.sys.load(control, used);
      const h = decode(CMSGHDR, c);
      if (h.cmsg_level === SOL_SOCKET && h.cmsg_type === SCM_RIGHTS) {
        const n = (Number(h.cmsg_len) - CMSGHDR.size) / 4;
        const dv = new DataView(c.buffer, c.byteOffset);
        for (let i = 0; i < n; i++) fds.push(dv.getInt32(CMSGHDR.size + 4 * i, true));
      }
    }
    return { ret, data, fds, msgFlags: m.msg_flags };
  }

  /** wait4() for `pid`; @returns {pid, status} (pid < 0 is -errno). */
  async waitpid(pid: number, options = 0): Promise<{ pid: number; status: number }> {
    const st = await this.alloc(4);
    const r = await this.sys.wait4(pid, st, options);
    return { pid: r, status: r > 0 ? await this.readI32(st) : 0 };
  }

  /** write() of a JS string. */
  async print(fd: number, s: string): Promise<number> {
    const b = new TextEncoder().encode(s);
    const p = await this.bytes(b);
    return this.sys.write(fd, p, b.length);
  }
}
