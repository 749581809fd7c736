/**
 * The built-in character devices of drivers/char/mem.c (/dev/null, /dev/zero) and a console that collects
 * what processes write (the tty role, so a demo can print output).
 */
import { type Errno, isErrno } from '../abi/index';
import { shmemZeroSetup } from '../mm/shmem';
import { VM_SHARED } from '../mm/vm-flags';
import type { Vma } from '../mm/vma';
import type { Task } from '../proc/task';
import type { FileOperations, OpenFile } from './file';

/** /dev/null: reads see EOF, writes vanish; no mmap (ENODEV), no ioctl (ENOTTY). */
export const devNullFops: FileOperations = {
  read: () => 0,
  write: (_f: OpenFile, _t: Task, _buf: number, count: number) => count,
};

/** Chunk size for zero-filling user buffers. */
const ZERO_CHUNK = 4096;

/** /dev/zero: reads give zeros; MAP_SHARED gets shmem, MAP_PRIVATE is anonymous memory (mmap_zero()). */
export const devZeroFops: FileOperations = {
  read(_f: OpenFile, t: Task, buf: number, count: number): number | Errno {
    const zero = new Uint8Array(Math.min(count, ZERO_CHUNK));
    let done = 0;
    while (done < count) {
      const n = Math.min(count - done, ZERO_CHUNK);
      const e = t.copyToUser(buf + done, n === zero.length ? zero : zero.subarray(0, n));
      if (isErrno(e)) return done > 0 ? done : e;
      done += n;
    }
    return done;
  },
  write: (_f: OpenFile, _t: Task, _buf: number, count: number) => count,
  mmap(_f: OpenFile, vma: Vma): 0 {
    if (vma.flags & VM_SHARED) shmemZeroSetup(vma);
    else vma.ops = null; // vma_set_anonymous(): the file stays attached, so maps shows /dev/zero
    return 0;
  },
};

/** A sink for console output, kept by the kernel. */
export interface ConsoleSink {
  write(pid: number, bytes: Uint8Array): void;
}

/** /dev/console: writes go to the kernel's console log, reads see EOF. */
export function consoleFops(sink: ConsoleSink): FileOperations {
  return {
    read: () => 0,
    write(_f: OpenFile, t: Task, buf: number, count: number): number | Errno {
      const bytes = t.copyFromUser(buf, count);
      if (isErrno(bytes)) return bytes;
      sink.write(t.tgid, bytes);
      return count;
    },
  };
}
