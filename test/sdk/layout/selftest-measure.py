#!/usr/bin/env python3
"""Independent oracle for MRENCLAVE: the Linux SGX selftests' recipe (tools/testing/selftests/sgx/load.c
encl_load() + sigstruct.c encl_measure()) written from their description, with segments taken from
`readelf -lW` rather than from sgxsim's ELF reader, and SHA-256 from hashlib.

usage: selftest-measure.py ELF HEAP_SIZE  ->  prints "<mrenclave hex> <encl_size> <pages>"
"""
import hashlib
import struct
import subprocess
import sys

PAGE = 4096


def load_segments(path):
    out = subprocess.run(["readelf", "-lW", path], check=True, capture_output=True, text=True).stdout
    segs = []
    for line in out.splitlines():
        f = line.split()
        if not f or f[0] != "LOAD":
            continue
        # Type Offset VirtAddr PhysAddr FileSiz MemSiz Flg... Align
        offset, filesz = int(f[1], 16), int(f[4], 16)
        flags = "".join(f[6:-1])
        segs.append((offset, filesz, flags))
    return segs


def main():
    path, heap = sys.argv[1], int(sys.argv[2])
    data = open(path, "rb").read()
    segs = load_segments(path)
    src = segs[0][0] & ~(PAGE - 1)
    table = []  # (offset, size, secinfo flags, measure)
    for i, (offset, filesz, flags) in enumerate(segs):
        if i == 0:
            assert flags == "RW", flags
            secinfo = 1 << 8  # SGX_PAGE_TYPE_TCS << 8
        else:
            prot = ("R" in flags) * 1 | ("W" in flags) * 2 | ("E" in flags) * 4
            secinfo = (2 << 8) | prot  # SGX_PAGE_TYPE_REG << 8 | prot
        table.append(((offset & ~(PAGE - 1)) - src, (filesz + PAGE - 1) & ~(PAGE - 1), secinfo, True))
    last_off, last_size = table[-1][0], table[-1][1]
    table.append((last_off + last_size, heap, (2 << 8) | 3, False))
    src_size = last_off + last_size + heap
    encl_size = PAGE
    while encl_size < src_size:
        encl_size <<= 1

    h = hashlib.sha256()
    h.update(struct.pack("<QIQ44x", 0x0045544145524345, 1, encl_size))
    pages = 0
    image = data[src:] + bytes(src_size)  # mmap of the file reads zeros past its end; the heap is zeros
    for off, size, secinfo, measure in table:
        for page in range(off, off + size, PAGE):
            pages += 1
            h.update(struct.pack("<QQQ40x", 0x0000000044444145, page, secinfo))
            if not measure:
                continue
            for chunk in range(page, page + PAGE, 256):
                h.update(struct.pack("<QQ48x", 0x00444E4554584545, chunk))
                h.update(image[chunk : chunk + 256])
    print(h.hexdigest(), encl_size, pages)


main()
