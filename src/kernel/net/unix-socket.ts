/**
 * AF_UNIX sockets made by socketpair() (net/unix/af_unix.c): SOCK_STREAM (a byte stream whose segments may
 * carry SCM_RIGHTS files), SOCK_DGRAM and SOCK_SEQPACKET (records). Flow control, EOF, EPIPE/SIGPIPE,
 * ECONNRESET and ECONNREFUSED follow af_unix.c. Sockets are connected at birth; there is no bind/connect.
 *
 *   socketpair ─► connected ─┬─ shutdown(SHUT_WR) ─► peer reads EOF after the queue
 *                            └─ close ─► peer: stream/seqpacket EOF (+ECONNRESET if data was left unread),
 *                                        dgram: first send ECONNREFUSED, then ENOTCONN
 */
import {
  EAGAIN,
  ECONNREFUSED,
  ECONNRESET,
  EINVAL,
  EMSGSIZE,
  ENOTCONN,
  EPIPE,
  ERESTARTSYS,
  type Errno,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  MSG_TRUNC,
  O_NONBLOCK,
  SIGPIPE,
  SOCK_BUF_DEFAULT,
  SOCK_SEQPACKET,
  SOCK_STREAM,
  UNIX_MAX_DGRAM_QLEN,
} from '../abi/index';
import type { OpenFile } from '../fd/file';
import type { Task } from '../proc/task';
import { type Block, block, WaitQueue } from '../sched/wait-queue';

export const RCV_SHUTDOWN = 1;
export const SEND_SHUTDOWN = 2;
export const SHUTDOWN_MASK = 3;

/** One queued buffer (an skb): payload, bytes already read, and attached files. */
export interface Skb {
  readonly data: Uint8Array;
  consumed: number;
  fds: OpenFile[] | null;
  /** The socket that sent it (its flow-control budget is charged while queued). */
  readonly from: UnixSocket;
  /** skb->truesize charged to the sender's sk_wmem_alloc. */
  readonly truesize: number;
}

const PAGE = 4096;
/** SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) and SKB_DATA_ALIGN(sizeof(struct sk_buff)) on x86-64. */
const SKB_SHINFO = 320;
const SKB_STRUCT = 256;
/** SKB_MAX_HEAD(0): what fits in one page of linear data. */
const SKB_MAX_HEAD0 = PAGE - SKB_SHINFO;
/** SKB_MAX_ALLOC = SKB_MAX_ORDER(0, 2): the dgram linear limit. */
const SKB_MAX_ALLOC = (PAGE << 2) - SKB_SHINFO;
/** UNIX_SKB_FRAGS_SZ: PAGE_SIZE << get_order(32768). */
const UNIX_SKB_FRAGS_SZ = 32768;
const MAX_SKB_FRAGS = 17;

function pageAlign(n: number): number {
  return Math.ceil(n / PAGE) * PAGE;
}

/** kmalloc()'s size classes above 256 bytes are powers of two (then whole page orders). */
function kmallocSize(n: number): number {
  let s = 512;
  while (s < n) s *= 2;
  return s;
}

/** skb->truesize for `linear` head bytes plus `paged` bytes of page fragments (SKB_TRUESIZE()). */
export function skbTruesize(linear: number, paged: number): number {
  return kmallocSize(Math.ceil(linear / 64) * 64 + SKB_SHINFO) + paged + SKB_STRUCT;
}

/** What one receive produced. */
export interface RecvResult {
  readonly data: Uint8Array;
  readonly fds: OpenFile[];
  readonly msgFlags: number;
  /** For records: the full length of the record (MSG_TRUNC semantics). */
  readonly recordLen: number;
}

export class UnixSocket {
  peer: UnixSocket | null = null;
  readonly queue: Skb[] = [];
  shutdown = 0;
  /** sk_err, reported once. */
  err: Errno | null = null;
  dead = false;
  readonly sndbuf = SOCK_BUF_DEFAULT;
  /** Bytes this socket has queued at its peer (sk_wmem_alloc). */
  wmem = 0;
  /** unix_sock->oob_skb: the out-of-band byte not yet read with MSG_OOB (CONFIG_AF_UNIX_OOB). */
  oob: Skb | null = null;
  /** sk_sleep: readers, writers and shutdown waiters. */
  readonly wq = new WaitQueue('sk_sleep');

  constructor(
    readonly type: number,
    readonly ino: number,
  ) {}

  get isStream(): boolean {
    return this.type === SOCK_STREAM;
  }

  /** Bytes waiting to be read (SIOCINQ). For records, the length of the next record. */
  inq(): number {
    if (!this.isStream) return this.queue[0] ? this.queue[0].data.length : 0;
    let n = 0;
    for (const s of this.queue) n += s.data.length - s.consumed;
    return n;
  }

  private dequeueSkb(skb: Skb): void {
    const i = this.queue.indexOf(skb);
    if (i >= 0) this.queue.splice(i, 1);
    skb.from.wmem -= skb.truesize;
    skb.from.wq.wakeAll();
  }

  /** unix_release_sock(): the socket goes; the peer sees EOF or a refused connection; queued files are dropped. */
  release(): void {
    this.dead = true;
    this.shutdown = SHUTDOWN_MASK;
    const peer = this.peer;
    if (peer) {
      if (this.type === SOCK_STREAM || this.type === SOCK_SEQPACKET) {
        peer.shutdown = SHUTDOWN_MASK;
        if (this.queue.length > 0) peer.err = ECONNRESET;
      }
      peer.wq.wakeAll();
    }
    for (const skb of this.queue.splice(0)) {
      skb.from.wmem -= skb.truesize;
      for (const f of skb.fds ?? []) f.put();
    }
    this.wq.wakeAll();
  }

  /** unix_shutdown(): SHUT_RD/WR/RDWR mirrored on the peer for connection-oriented types. */
  doShutdown(how: number): void {
    const mode = how + 1;
    this.shutdown |= mode;
    this.wq.wakeAll();
    const peer = this.peer;
    if (peer && (this.type === SOCK_STREAM || this.type === SOCK_SEQPACKET)) {
      let pm = 0;
      if (mode & RCV_SHUTDOWN) pm |= SEND_SHUTDOWN;
      if (mode & SEND_SHUTDOWN) pm |= RCV_SHUTDOWN;
      peer.shutdown |= pm;
      peer.wq.wakeAll();
    }
  }

  /** Sends EPIPE, raising SIGPIPE unless MSG_NOSIGNAL (unix_stream_sendmsg() pipe_err). */
  private epipe(t: Task, flags: number): Errno {
    if (!(flags & MSG_NOSIGNAL))
      t.kernel.signals.send(
        t,
        SIGPIPE,
        { si_signo: SIGPIPE, si_code: 0, si_errno: 0, si_pid: t.tgid, si_uid: 0 },
        false,
      );
    return EPIPE;
  }

  /**
   * unix_stream_sendmsg(): queues `data` in segments of at most half the send buffer, sleeping while this
   * socket's bytes in flight (sk_wmem_alloc) reach SO_SNDBUF. Files ride on the first segment; with no data
   * nothing is sent and the files are dropped, as in Linux. `st` keeps the progress across sleeps (the
   * caller re-parses `fds` on every run; once they are queued, later copies are dropped).
   * @returns bytes sent (a partial count when interrupted or non-blocking), or ENOTCONN, EPIPE (SIGPIPE
   *   unless MSG_NOSIGNAL, only when nothing was sent), EAGAIN, ERESTARTSYS, a Block.
   */
  sendStream(
    t: Task,
    file: OpenFile,
    data: Uint8Array,
    fds: OpenFile[] | null,
    flags: number,
    st: Record<string, unknown>,
  ): number | Errno | Block {
    let sent = (st.sent as number | undefined) ?? 0;
    let unsent = st.fdsSent ? fds : null;
    let pending = st.fdsSent ? null : fds;
    const drop = () => {
      for (const f of [...(unsent ?? []), ...(pending ?? [])]) f.put();
      unsent = null;
      pending = null;
    };
    const pipe = (): number | Errno => {
      drop();
      if (sent > 0) return sent;
      return this.epipe(t, flags);
    };
    const nonblock = (flags & MSG_DONTWAIT) !== 0 || (file.flags & O_NONBLOCK) !== 0;
    const peer = this.peer;
    if (!peer) {
      drop();
      return ENOTCONN;
    }
    if (this.shutdown & SEND_SHUTDOWN) return pipe();
    while (sent < data.length) {
      // sock_alloc_send_pskb(): wait while the bytes in flight fill the send buffer.
      if (this.wmem >= this.sndbuf) {
        drop();
        if (nonblock) return sent > 0 ? sent : EAGAIN;
        if (t.signalPending()) return sent > 0 ? sent : ERESTARTSYS;
        st.sent = sent;
        return block(this.wq);
      }
      if (peer.dead || peer.shutdown & RCV_SHUTDOWN) return pipe();
      // Segment sizing of unix_stream_sendmsg(): half the send buffer, a page of head, the rest in page frags.
      let n = Math.min(data.length - sent, (this.sndbuf >> 1) - 64);
      n = Math.min(n, SKB_MAX_HEAD0 + UNIX_SKB_FRAGS_SZ);
      const paged = Math.min(n, pageAlign(Math.max(0, n - SKB_MAX_HEAD0)));
      const truesize = skbTruesize(n - paged, paged);
      const skb: Skb = { data: data.slice(sent, sent + n), consumed: 0, fds: pending, from: this, truesize };
      if (pending) st.fdsSent = true;
      pending = null;
      peer.queue.push(skb);
      this.wmem += truesize;
      peer.wq.wakeAll();
      sent += n;
      st.sent = sent;
    }
    drop();
    return sent;
  }

  /**
   * unix_dgram_sendmsg() (and unix_seqpacket_sendmsg()): one record, or EMSGSIZE, ECONNREFUSED/ENOTCONN for a
   * dead dgram peer, EPIPE for a dead seqpacket peer, EAGAIN when the peer's queue is full and non-blocking.
   */
  sendRecord(t: Task, file: OpenFile, data: Uint8Array, fds: OpenFile[] | null, flags: number): number | Errno | Block {
    const drop = (e: Errno | Block): Errno | Block => {
      if (fds) for (const f of fds) f.put();
      return e;
    };
    if (data.length > this.sndbuf - 32) return drop(EMSGSIZE);
    const peer = this.peer;
    if (!peer) return drop(this.type === SOCK_SEQPACKET ? this.epipe(t, flags) : ENOTCONN);
    if (this.shutdown & SEND_SHUTDOWN) return drop(this.epipe(t, flags));
    if (peer.dead) {
      if (this.type === SOCK_SEQPACKET) return drop(this.epipe(t, flags));
      this.peer = null;
      return drop(ECONNREFUSED);
    }
    if (this.type === SOCK_SEQPACKET && peer.shutdown & RCV_SHUTDOWN) return drop(this.epipe(t, flags));
    const nonblock = (flags & MSG_DONTWAIT) !== 0 || (file.flags & O_NONBLOCK) !== 0;
    // sock_alloc_send_pskb(): wait while the bytes in flight fill the send buffer.
    if (this.wmem >= this.sndbuf) {
      if (nonblock) return drop(EAGAIN);
      return drop(block(this.wq));
    }
    // unix_recvq_full() only applies when the receiver is not connected back to us; a pair always is.
    if (peer.peer !== this && peer.queue.length > UNIX_MAX_DGRAM_QLEN) {
      if (nonblock) return drop(EAGAIN);
      return drop(block([peer.wq, this.wq]));
    }
    let paged = 0;
    if (data.length > SKB_MAX_ALLOC) paged = pageAlign(Math.min(data.length - SKB_MAX_ALLOC, MAX_SKB_FRAGS * PAGE));
    const truesize = skbTruesize(data.length - paged, paged);
    peer.queue.push({ data: data.slice(), consumed: 0, fds, from: this, truesize });
    this.wmem += truesize;
    peer.wq.wakeAll();
    return data.length;
  }

  /**
   * The copying part of unix_stream_read_generic(): takes what is queued now, up to `max` bytes, gluing
   * segments but stopping after one that carried files (their descriptors go with this read). MSG_PEEK
   * leaves everything queued and duplicates the file references.
   */
  readStream(max: number, peek: boolean): { data: Uint8Array; fds: OpenFile[] } {
    const parts: Uint8Array[] = [];
    let copied = 0;
    let fds: OpenFile[] = [];
    for (const skb of [...this.queue]) {
      if (copied >= max) break;
      // manage_oob(): the urgent byte is not part of the normal stream. Reading stops at its mark; at the
      // head it is dropped (it can no longer be read with MSG_OOB), and an already-read one is consumed.
      if (skb.consumed >= skb.data.length) {
        if (!peek) this.dequeueSkb(skb);
        continue;
      }
      if (skb === this.oob) {
        if (copied > 0) break;
        if (peek) continue;
        this.oob = null;
        this.dequeueSkb(skb);
        for (const f of skb.fds ?? []) f.put();
        continue;
      }
      const avail = skb.data.length - skb.consumed;
      const n = Math.min(avail, max - copied);
      parts.push(skb.data.subarray(skb.consumed, skb.consumed + n));
      copied += n;
      if (skb.fds && skb.fds.length > 0) {
        if (peek) fds = skb.fds.map((f) => f.get());
        else {
          fds = skb.fds;
          skb.fds = null;
        }
      }
      if (peek) {
        if (n < avail || fds.length > 0) break;
        continue;
      }
      skb.consumed += n;
      // "Mark read part of skb as used": a partly read segment stays; a drained one goes.
      if (skb.consumed < skb.data.length) break;
      this.dequeueSkb(skb);
      if (fds.length > 0) break;
    }
    return { data: concat(parts, copied), fds };
  }

  /**
   * queue_oob(): the last byte of an MSG_OOB send becomes the urgent byte, in a segment of its own that
   * carries the files when no earlier segment did. No SIGURG is sent: nobody set F_SETOWN on our sockets.
   */
  queueOob(byte: Uint8Array, fds: OpenFile[] | null): void {
    const peer = this.peer!;
    const truesize = skbTruesize(1, 0);
    const skb: Skb = { data: byte.slice(0, 1), consumed: 0, fds, from: this, truesize };
    peer.queue.push(skb);
    peer.oob = skb;
    this.wmem += truesize;
    peer.wq.wakeAll();
  }

  /** unix_stream_recv_urg(): the urgent byte, or EINVAL when there is none. */
  readOob(peek: boolean): Uint8Array | Errno {
    const skb = this.oob;
    if (!skb) return EINVAL;
    if (!peek) {
      skb.consumed = skb.data.length;
      this.oob = null;
    }
    return skb.data.slice(0, 1);
  }

  /** The record at the head of the queue, taken (or peeked), truncated to `max`; undefined when empty. */
  readRecord(max: number, peek: boolean): RecvResult | undefined {
    const skb = this.queue[0];
    if (!skb) return undefined;
    const len = skb.data.length;
    const n = Math.min(len, max);
    const data = skb.data.slice(0, n);
    let fds: OpenFile[];
    if (peek) {
      fds = (skb.fds ?? []).map((f) => f.get());
    } else {
      fds = skb.fds ?? [];
      skb.fds = null;
      this.dequeueSkb(skb);
    }
    return { data, fds, msgFlags: n < len ? MSG_TRUNC : 0, recordLen: len };
  }

  /** sock_error(): the pending error, cleared as it is reported. */
  takeError(): Errno | null {
    const e = this.err;
    this.err = null;
    return e;
  }
}

function concat(parts: Uint8Array[], n: number): Uint8Array {
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
