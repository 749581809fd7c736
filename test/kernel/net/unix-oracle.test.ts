/**
 * AF_UNIX socketpair semantics compared with native Linux: the same sequence of socketpair/sendmsg/recvmsg/
 * close/shutdown calls runs in C and in the simulated kernel, printing return values, errnos, msg_flags,
 * msg_controllen and the data, which must be identical.
 */
import { describe, expect, it } from 'vitest';
import { hasGcc, runC } from '../../util/native';
import { errName, makeTestKernel } from '../fixtures/kernel';
import {
  AF_INET,
  AF_UNIX,
  CMSG_LEN,
  CMSG_SPACE,
  CMSGHDR,
  encode,
  F_GETFL,
  F_SETFL,
  IOVEC,
  Libc,
  MSG_CMSG_CLOEXEC,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  MSG_OOB,
  MSG_PEEK,
  MSG_TRUNC,
  MSG_WAITALL,
  MSGHDR,
  O_NONBLOCK,
  O_RDWR,
  SCM_RIGHTS,
  SHUT_WR,
  SIG_IGN_HANDLER,
  SIGPIPE,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_SEQPACKET,
  SOCK_STREAM,
  SOL_SOCKET,
  type Sys,
} from './oracle-imports';

void SIG_IGN_HANDLER;

const NATIVE = String.raw`#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
static void res(const char *what, long r) {
  if (r < 0) printf("%s %s\n", what, strerrorname_np(errno)); else printf("%s %ld\n", what, r);
}
static int sp(int type, int *sv) { return socketpair(AF_UNIX, type, 0, sv); }
static long sendfds(int s, const char *data, int len, int *fds, int nfds, int flags) {
  struct iovec iov = { (void *)data, len };
  char buf[CMSG_SPACE(sizeof(int) * 300)];
  struct msghdr m = {0};
  m.msg_iov = &iov; m.msg_iovlen = 1;
  if (nfds) {
    m.msg_control = buf; m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  return sendmsg(s, &m, flags);
}
static long recvfds(int s, int max, int ctl, int flags, const char *tag) {
  char data[256] = {0};
  char buf[512];
  struct iovec iov = { data, max };
  struct msghdr m = {0};
  m.msg_iov = &iov; m.msg_iovlen = 1;
  m.msg_control = ctl ? buf : 0; m.msg_controllen = ctl;
  long r = recvmsg(s, &m, flags);
  if (r < 0) { printf("%s %s\n", tag, strerrorname_np(errno)); return r; }
  int n = 0;
  if (m.msg_controllen >= sizeof(struct cmsghdr)) n = (CMSG_FIRSTHDR(&m)->cmsg_len - CMSG_LEN(0)) / sizeof(int);
  printf("%s %ld flags %x clen %zu nfds %d data %.*s\n", tag, r, m.msg_flags, (size_t)m.msg_controllen, n, (int)(r < max ? r : max), data);
  return r;
}
int main(void) {
  signal(SIGPIPE, SIG_IGN);
  int sv[2], dv[2], qv[2];
  res("inet", socketpair(AF_INET, SOCK_STREAM, 0, sv));
  res("family", socketpair(99, SOCK_STREAM, 0, sv));
  res("proto", socketpair(AF_UNIX, SOCK_STREAM, 7, sv));
  res("type", socketpair(AF_UNIX, 9, 0, sv));
  res("flags", socketpair(AF_UNIX, SOCK_STREAM | 0x100, 0, sv));
  res("fault", socketpair(AF_UNIX, SOCK_STREAM, 0, (int *)8));
  res("stream", sp(SOCK_STREAM, sv));
  res("send1", sendfds(sv[0], "hello", 5, 0, 0, 0));
  res("send2", sendfds(sv[0], "world", 5, 0, 0, 0));
  recvfds(sv[1], 3, 0, MSG_PEEK, "peek");
  recvfds(sv[1], 3, 0, 0, "recv3");
  recvfds(sv[1], 100, 0, 0, "recvrest");
  recvfds(sv[1], 100, 0, MSG_DONTWAIT, "empty");
  res("oob1", sendfds(sv[0], "abc", 3, 0, 0, MSG_OOB));
  recvfds(sv[1], 100, 0, 0, "beforemark");
  recvfds(sv[1], 100, 0, MSG_OOB | MSG_PEEK, "oobpeek");
  recvfds(sv[1], 100, 0, MSG_OOB, "oobread");
  recvfds(sv[1], 100, 0, MSG_OOB, "oobagain");
  recvfds(sv[1], 100, 0, MSG_DONTWAIT, "afteroob");
  res("oob2", sendfds(sv[0], "xy", 2, 0, 0, MSG_OOB));
  res("oob2b", sendfds(sv[0], "z", 1, 0, 0, 0));
  recvfds(sv[1], 100, 0, 0, "tomark");
  recvfds(sv[1], 100, 0, 0, "pastmark");
  recvfds(sv[1], 100, 0, MSG_OOB, "ooblost");
  res("oobempty", sendfds(sv[0], "", 0, 0, 0, MSG_OOB));
  int pass[3] = { sv[0], 0, 1 };
  res("sendfd", sendfds(sv[0], "fd", 2, pass, 3, 0));
  res("after", sendfds(sv[0], "zz", 2, 0, 0, 0));
  recvfds(sv[1], 100, CMSG_SPACE(sizeof(int) * 1), MSG_CMSG_CLOEXEC, "ctrunc");
  recvfds(sv[1], 100, 0, 0, "next");
  res("sendfd2", sendfds(sv[0], "x", 1, pass, 1, 0));
  recvfds(sv[1], 100, 0, 0, "noctl");
  res("sendfd3", sendfds(sv[0], "y", 1, pass, 1, 0));
  recvfds(sv[1], 100, 8, 0, "tinyctl");
  int bad = 77;
  res("badfd", sendfds(sv[0], "x", 1, &bad, 1, 0));
  int many[254];
  for (int i = 0; i < 254; i++) many[i] = 0;
  res("toomany", sendfds(sv[0], "x", 1, many, 254, 0));
  res("max", sendfds(sv[0], "x", 1, many, 253, 0));
  recvfds(sv[1], 100, 0, 0, "drainmax");
  res("zerolen", sendfds(sv[0], "", 0, pass, 1, 0));
  recvfds(sv[1], 100, 64, MSG_DONTWAIT, "zerolenrecv");
  res("notsock", sendfds(open("/dev/null", O_RDWR), "x", 1, 0, 0, 0));
  res("badsock", sendfds(99, "x", 1, 0, 0, 0));
  res("shutwr", shutdown(sv[0], SHUT_WR));
  res("sendshut", sendfds(sv[0], "x", 1, 0, 0, MSG_NOSIGNAL));
  recvfds(sv[1], 100, 0, 0, "eof");
  res("shutbad", shutdown(sv[0], 5));
  res("send", sendfds(sv[1], "left", 4, 0, 0, 0));
  close(sv[0]);
  recvfds(sv[1], 100, 0, 0, "reset");
  recvfds(sv[1], 100, 0, 0, "eof2");
  res("pipe", sendfds(sv[1], "x", 1, 0, 0, 0));
  res("dgram", sp(SOCK_DGRAM, dv));
  res("d1", sendfds(dv[0], "abcdef", 6, 0, 0, 0));
  res("d2", sendfds(dv[0], "gh", 2, 0, 0, 0));
  recvfds(dv[1], 3, 0, 0, "dtrunc");
  recvfds(dv[1], 3, 0, MSG_TRUNC, "dtrunclen");
  res("d3", sendfds(dv[0], "", 0, 0, 0, 0));
  recvfds(dv[1], 10, 0, 0, "dzero");
  recvfds(dv[1], 10, 0, MSG_DONTWAIT, "dempty");
  int i, n = 0;
  for (i = 0; i < 400; i++) if (sendfds(dv[0], "q", 1, 0, 0, MSG_DONTWAIT) < 0) break; else n++;
  printf("qlen %d %s\n", n, strerrorname_np(errno));
  close(dv[1]);
  res("refused", sendfds(dv[0], "x", 1, 0, 0, 0));
  res("notconn", sendfds(dv[0], "x", 1, 0, 0, 0));
  res("seqpacket", sp(SOCK_SEQPACKET, qv));
  res("q1", sendfds(qv[0], "record", 6, 0, 0, 0));
  recvfds(qv[1], 3, 0, 0, "qtrunc");
  close(qv[0]);
  recvfds(qv[1], 10, 0, 0, "qeof");
  res("qpipe", sendfds(qv[1], "x", 1, 0, 0, 0));
  res("nb", sp(SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, sv));
  printf("nbflags %x cloexec %d\n", fcntl(sv[0], F_GETFL), fcntl(sv[0], F_GETFD));
  recvfds(sv[0], 10, 0, 0, "nbempty");
  long total = 0, r;
  while ((r = sendfds(sv[0], "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 64, 0, 0, 0)) > 0) total += r;
  printf("filled %ld %s\n", total, strerrorname_np(errno));
  res("waitall", sendfds(sv[1], "abc", 3, 0, 0, 0));
  recvfds(sv[0], 2, 0, MSG_WAITALL, "waitall2");
  int fl = fcntl(sv[0], F_GETFL);
  int pass2[1] = { sv[0] };
  sendfds(sv[1], "s", 1, pass2, 1, 0);
  char data[8]; char buf[64]; struct iovec iov = { data, 8 }; struct msghdr m = {0};
  m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = buf; m.msg_controllen = sizeof buf;
  recvmsg(sv[0], &m, 0);
  int got; memcpy(&got, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof got);
  fcntl(got, F_SETFL, fl & ~O_NONBLOCK);
  printf("shared %x\n", fcntl(sv[0], F_GETFL));
  return 0;
}
`;

async function simulate(): Promise<string> {
  const out: string[] = [];
  const k = makeTestKernel();
  k.spawn(async (sys: Sys) => {
    const libc = new Libc(sys);
    const res = (what: string, r: number) => out.push(`${what} ${r < 0 ? errName(r) : r}`);
    const sv = await libc.alloc(8);
    const pair = async (type: number): Promise<[number, number] | number> => {
      const r = await sys.socketpair(AF_UNIX, type, 0, sv);
      if (r < 0) return r;
      return [await libc.readI32(sv), await libc.readI32(sv + 4)];
    };
    const sendfds = async (s: number, data: string, fds: number[], flags: number) =>
      libc.sendmsg(s, new TextEncoder().encode(data), fds, flags);
    const recvfds = async (s: number, max: number, ctl: number, flags: number, tag: string) => {
      const buf = await libc.alloc(256);
      const control = ctl ? await libc.alloc(512) : 0;
      const iov = await libc.bytes(encode(IOVEC, { iov_base: BigInt(buf), iov_len: BigInt(max) }));
      const m = await libc.bytes(
        encode(MSGHDR, {
          msg_iov: BigInt(iov),
          msg_iovlen: 1n,
          msg_control: BigInt(control),
          msg_controllen: BigInt(ctl),
        }),
      );
      const r = await sys.recvmsg(s, m, flags);
      if (r < 0) {
        out.push(`${tag} ${errName(r)}`);
        return r;
      }
      const hdr = await sys.load(m, MSGHDR.size);
      const dv = new DataView(hdr.buffer, hdr.byteOffset);
      const clen = Number(dv.getBigUint64(40, true));
      const flagsOut = dv.getUint32(48, true);
      let n = 0;
      if (clen >= CMSGHDR.size) n = (Number(await libc.readU64(control)) - CMSG_LEN(0)) / 4;
      const data = new TextDecoder().decode(await sys.load(buf, Math.min(r, max)));
      out.push(`${tag} ${r} flags ${flagsOut.toString(16)} clen ${clen} nfds ${n} data ${data}`);
      return r;
    };
    await sys.sigaction(SIGPIPE, { handler: 'SIG_IGN' });
    res('inet', await sys.socketpair(AF_INET, SOCK_STREAM, 0, sv));
    res('family', await sys.socketpair(99, SOCK_STREAM, 0, sv));
    res('proto', await sys.socketpair(AF_UNIX, SOCK_STREAM, 7, sv));
    res('type', await sys.socketpair(AF_UNIX, 9, 0, sv));
    res('flags', await sys.socketpair(AF_UNIX, SOCK_STREAM | 0x100, 0, sv));
    res('fault', await sys.socketpair(AF_UNIX, SOCK_STREAM, 0, 8));
    let s = (await pair(SOCK_STREAM)) as [number, number];
    out.push('stream 0');
    res('send1', await sendfds(s[0], 'hello', [], 0));
    res('send2', await sendfds(s[0], 'world', [], 0));
    await recvfds(s[1], 3, 0, MSG_PEEK, 'peek');
    await recvfds(s[1], 3, 0, 0, 'recv3');
    await recvfds(s[1], 100, 0, 0, 'recvrest');
    await recvfds(s[1], 100, 0, MSG_DONTWAIT, 'empty');
    res('oob1', await sendfds(s[0], 'abc', [], MSG_OOB));
    await recvfds(s[1], 100, 0, 0, 'beforemark');
    await recvfds(s[1], 100, 0, MSG_OOB | MSG_PEEK, 'oobpeek');
    await recvfds(s[1], 100, 0, MSG_OOB, 'oobread');
    await recvfds(s[1], 100, 0, MSG_OOB, 'oobagain');
    await recvfds(s[1], 100, 0, MSG_DONTWAIT, 'afteroob');
    res('oob2', await sendfds(s[0], 'xy', [], MSG_OOB));
    res('oob2b', await sendfds(s[0], 'z', [], 0));
    await recvfds(s[1], 100, 0, 0, 'tomark');
    await recvfds(s[1], 100, 0, 0, 'pastmark');
    await recvfds(s[1], 100, 0, MSG_OOB, 'ooblost');
    res('oobempty', await sendfds(s[0], '', [], MSG_OOB));
    const pass = [s[0], 0, 1];
    res('sendfd', await sendfds(s[0], 'fd', pass, 0));
    res('after', await sendfds(s[0], 'zz', [], 0));
    await recvfds(s[1], 100, CMSG_SPACE(4), MSG_CMSG_CLOEXEC, 'ctrunc');
    await recvfds(s[1], 100, 0, 0, 'next');
    res('sendfd2', await sendfds(s[0], 'x', [s[0]], 0));
    await recvfds(s[1], 100, 0, 0, 'noctl');
    res('sendfd3', await sendfds(s[0], 'y', [s[0]], 0));
    await recvfds(s[1], 100, 8, 0, 'tinyctl');
    res('badfd', await sendfds(s[0], 'x', [77], 0));
    res('toomany', await sendfds(s[0], 'x', new Array(254).fill(0), 0));
    res('max', await sendfds(s[0], 'x', new Array(253).fill(0), 0));
    await recvfds(s[1], 100, 0, 0, 'drainmax');
    res('zerolen', await sendfds(s[0], '', [s[0]], 0));
    await recvfds(s[1], 100, 64, MSG_DONTWAIT, 'zerolenrecv');
    res('notsock', await sendfds(await libc.open('/dev/null', O_RDWR), 'x', [], 0));
    res('badsock', await sendfds(99, 'x', [], 0));
    res('shutwr', await sys.shutdown(s[0], SHUT_WR));
    res('sendshut', await sendfds(s[0], 'x', [], MSG_NOSIGNAL));
    await recvfds(s[1], 100, 0, 0, 'eof');
    res('shutbad', await sys.shutdown(s[0], 5));
    res('send', await sendfds(s[1], 'left', [], 0));
    await sys.close(s[0]);
    await recvfds(s[1], 100, 0, 0, 'reset');
    await recvfds(s[1], 100, 0, 0, 'eof2');
    res('pipe', await sendfds(s[1], 'x', [], 0));
    const d = (await pair(SOCK_DGRAM)) as [number, number];
    out.push('dgram 0');
    res('d1', await sendfds(d[0], 'abcdef', [], 0));
    res('d2', await sendfds(d[0], 'gh', [], 0));
    await recvfds(d[1], 3, 0, 0, 'dtrunc');
    await recvfds(d[1], 3, 0, MSG_TRUNC, 'dtrunclen');
    res('d3', await sendfds(d[0], '', [], 0));
    await recvfds(d[1], 10, 0, 0, 'dzero');
    await recvfds(d[1], 10, 0, MSG_DONTWAIT, 'dempty');
    let n = 0;
    let last = 0;
    for (let i = 0; i < 400; i++) {
      last = await sendfds(d[0], 'q', [], MSG_DONTWAIT);
      if (last < 0) break;
      n++;
    }
    out.push(`qlen ${n} ${errName(last)}`);
    await sys.close(d[1]);
    res('refused', await sendfds(d[0], 'x', [], 0));
    res('notconn', await sendfds(d[0], 'x', [], 0));
    const q = (await pair(SOCK_SEQPACKET)) as [number, number];
    out.push('seqpacket 0');
    res('q1', await sendfds(q[0], 'record', [], 0));
    await recvfds(q[1], 3, 0, 0, 'qtrunc');
    await sys.close(q[0]);
    await recvfds(q[1], 10, 0, 0, 'qeof');
    res('qpipe', await sendfds(q[1], 'x', [], 0));
    s = (await pair(SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC)) as [number, number];
    out.push('nb 0');
    out.push(`nbflags ${(await sys.fcntl(s[0], F_GETFL)).toString(16)} cloexec ${await sys.fcntl(s[0], 1)}`);
    await recvfds(s[0], 10, 0, 0, 'nbempty');
    let r: number;
    let total = 0;
    for (;;) {
      r = await sendfds(s[0], '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', [], 0);
      if (r <= 0) break;
      total += r;
    }
    out.push(`filled ${total} ${errName(r)}`);
    res('waitall', await sendfds(s[1], 'abc', [], 0));
    await recvfds(s[0], 2, 0, MSG_WAITALL, 'waitall2');
    const fl = await sys.fcntl(s[0], F_GETFL);
    await sendfds(s[1], 's', [s[0]], 0);
    const got = await libc.recvmsg(s[0], 8, 4);
    await sys.fcntl(got.fds[0]!, F_SETFL, fl & ~O_NONBLOCK);
    out.push(`shared ${(await sys.fcntl(s[0], F_GETFL)).toString(16)}`);
    void [O_RDWR, SCM_RIGHTS, SOL_SOCKET, CMSG_LEN];
    return 0;
  });
  const r = await k.run({ maxSteps: 500_000 });
  expect(r.kind, JSON.stringify(r)).toBe('idle');
  return `${out.join('\n')}\n`;
}

describe.skipIf(!hasGcc())('AF_UNIX socket pairs against native Linux', () => {
  it('socketpair, sendmsg/recvmsg with SCM_RIGHTS, shutdown and close behave like the host', async () => {
    const want = runC(NATIVE, ['-O0']);
    const got = await simulate();
    expect(got).toBe(want);
  });
});
