/**
 * `sgxsim ps`: the kernel's ps snapshot (processes, threads, maps, fds) with the enclave details the driver knows:
 * which fd and which mapping is which enclave, each enclave's state, pages and mm_list (as pids).
 */
import { formatPs, type Kernel, type KernelSnapshot, type Mm, snapshot } from '../../kernel/index';
import type { SgxEncl } from './encl';
import type { Sgx } from './sgx';
import { sgxEnclaveStats, sgxStats } from './stats';

/** The pids whose address space is `mm` (threads of one process, or none once it exited). */
function pidsOf(k: Kernel, mm: Mm): number[] {
  const out: number[] = [];
  for (const p of k.processes.values()) if (p.threads.some((t) => t.mm === mm)) out.push(p.pid);
  return out.sort((a, b) => a - b);
}

/** The enclave behind an open file description id, if it is /dev/sgx_enclave. */
function enclOfFile(k: Kernel, fileId: number): SgxEncl | undefined {
  for (const f of k.liveFiles)
    if (f.id === fileId && f.inode.path === '/dev/sgx_enclave') return f.privateData as SgxEncl;
  return undefined;
}

/** Everything `sgxsim ps` prints, as text. */
export function formatSgxPs(sgx: Sgx, snap: KernelSnapshot = snapshot(sgx.k)): string {
  const k = sgx.k;
  const out: string[] = [formatPs(snap).trimEnd()];
  for (const p of snap.processes) {
    if (p.comm.startsWith('[') || (p.maps.length === 0 && p.fds.length === 0)) continue;
    const lines: string[] = [];
    for (const f of p.fds) {
      const encl = enclOfFile(k, f.file);
      if (encl) lines.push(`  fd ${f.fd} -> ${f.target} (enclave ${encl.id}, file ${f.file}, refs ${f.refcount})`);
      else if (f.target.startsWith('/dev/sgx')) lines.push(`  fd ${f.fd} -> ${f.target}`);
    }
    for (const m of p.maps) {
      if (m.name !== '/dev/sgx_enclave') continue;
      lines.push(`  ${m.line.replace(/\s+\/dev\/sgx_enclave$/, '')} sgx_enclave  [${m.resident} PTE]`);
    }
    if (lines.length) out.push(`pid ${p.pid} (${p.comm}):`, ...lines);
  }
  const st = sgxStats(sgx);
  out.push(`EPC: ${st.usedPages}/${st.totalPages} pages used, ${st.freePages} free`);
  for (const encl of [...sgx.enclaves].sort((a, b) => a.id - b.id)) {
    const e = sgxEnclaveStats(encl);
    const mms = encl.mmList.map((x) => `mm ${x.mm.id} (pid ${pidsOf(k, x.mm).join(',') || 'exited'})`);
    out.push(
      `enclave ${e.id} [${e.flags.join(' ') || 'new'}] base 0x${e.base.toString(16)} size 0x${e.size.toString(16)}: ` +
        `${e.resident}/${e.pages} pages in EPC, SECS ${e.secsResident ? 'in EPC' : e.flags.includes('CREATED') ? 'evicted' : 'none'}, ` +
        `${e.vaPages} VA, refs ${e.refcount}; mm_list: ${mms.join(', ') || 'empty'}`,
    );
  }
  return `${out.join('\n')}\n`;
}
