/**
 * Garbage collection of in-flight AF_UNIX sockets (net/unix/garbage.c unix_gc()). A socket whose file is
 * referenced only by SCM_RIGHTS messages queued on sockets that are themselves unreachable (e.g. a socket
 * sent to its own peer, then closed) would never be released. Linux collects such cycles when sockets are
 * released; we run the same mark-and-sweep when a socket fd is closed or a process exits.
 */
import type { OpenFile } from '../fd/file';
import { UnixSocket } from './unix-socket';

/** Purges the queues of unreachable in-flight sockets. @returns how many sockets were collected. */
export function unixGc(liveFiles: Iterable<OpenFile>): number {
  const sockets = new Map<UnixSocket, OpenFile>();
  for (const f of liveFiles) if (f.privateData instanceof UnixSocket) sockets.set(f.privateData, f);
  if (sockets.size === 0) return 0;
  const inflight = new Map<OpenFile, number>();
  for (const s of sockets.keys()) {
    for (const skb of s.queue) for (const g of skb.fds ?? []) inflight.set(g, (inflight.get(g) ?? 0) + 1);
  }
  // Candidates: every reference to the file is an in-flight one.
  const candidates = new Set<OpenFile>();
  for (const f of sockets.values()) if ((inflight.get(f) ?? 0) === f.refcount) candidates.add(f);
  if (candidates.size === 0) return 0;
  // Anything reachable from a socket held by an fd or a mapping is alive.
  const alive = new Set<OpenFile>();
  const work: UnixSocket[] = [...sockets.keys()].filter((s) => !candidates.has(sockets.get(s)!));
  while (work.length) {
    const s = work.pop()!;
    for (const skb of s.queue) {
      for (const g of skb.fds ?? []) {
        if (candidates.has(g) && !alive.has(g)) {
          alive.add(g);
          work.push(g.privateData as UnixSocket);
        }
      }
    }
  }
  const garbage = [...candidates].filter((f) => !alive.has(f));
  const drop: OpenFile[] = [];
  for (const f of garbage) {
    const s = f.privateData as UnixSocket;
    for (const skb of s.queue.splice(0)) {
      skb.from.wmem -= skb.truesize;
      drop.push(...(skb.fds ?? []));
    }
  }
  for (const g of drop) g.put();
  return garbage.length;
}
