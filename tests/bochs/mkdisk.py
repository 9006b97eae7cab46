#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mkdisk.py BOOTSECTOR.bin KERNEL.elf DISK.img

Builds a flat hard-disk image that boots the PVH unikernel through
examples/unikernel-x86_64/bochs-boot.S (see its comment for the layout):
the boot sector with the load parameters patched in, an empty command-line
sector, the kernel's single PT_LOAD segment, padding to whole cylinders of
16 heads x 63 sectors (the geometry the run script gives Bochs).

The entry is the PVH note's XEN_ELFNOTE_PHYS32_ENTRY, the address QEMU's
loader would jump to. Refuses anything the boot sector cannot load.
"""
import struct
import sys

SECTOR = 512
CYLINDER = 16 * 63 * SECTOR
STAGE_LIMIT = 0xA0000 - 0x10000  # the boot sector reads to 0x10000..640 KiB
XEN_ELFNOTE_PHYS32_ENTRY = 18


def die(msg):
    sys.exit("mkdisk.py: " + msg)


def pvh_entry(elf, phoff, phnum, phentsize):
    for i in range(phnum):
        p_type, _, p_off, _, _, p_filesz, _, _ = struct.unpack_from(
            "<IIQQQQQQ", elf, phoff + i * phentsize)
        if p_type != 4:  # PT_NOTE
            continue
        pos, end = p_off, p_off + p_filesz
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, pos)
            name = elf[pos + 12:pos + 12 + namesz].rstrip(b"\0")
            desc = pos + 12 + ((namesz + 3) & ~3)
            if name == b"Xen" and ntype == XEN_ELFNOTE_PHYS32_ENTRY:
                return struct.unpack_from("<I", elf, desc)[0]
            pos = desc + ((descsz + 3) & ~3)
    die("no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)")


def main():
    if len(sys.argv) != 4:
        die("usage: mkdisk.py BOOTSECTOR.bin KERNEL.elf DISK.img")
    boot = bytearray(open(sys.argv[1], "rb").read())
    elf = open(sys.argv[2], "rb").read()
    if len(boot) != SECTOR or boot[510:512] != b"\x55\xaa":
        die("boot sector is %d bytes or lacks 55 aa" % len(boot))
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        die("not a little-endian ELF64 file")
    phoff, = struct.unpack_from("<Q", elf, 32)
    phentsize, phnum = struct.unpack_from("<HH", elf, 54)
    loads = []
    for i in range(phnum):
        p_type, _, p_off, _, p_paddr, p_filesz, p_memsz, _ = struct.unpack_from(
            "<IIQQQQQQ", elf, phoff + i * phentsize)
        if p_type == 1:  # PT_LOAD
            loads.append((p_off, p_paddr, p_filesz, p_memsz))
    if len(loads) != 1:
        die("want exactly one PT_LOAD segment, found %d" % len(loads))
    off, paddr, filesz, memsz = loads[0]
    entry = pvh_entry(elf, phoff, phnum, phentsize)
    if paddr < 0x100000 or paddr + memsz > 0xFFFFFFFF or memsz < filesz:
        die("segment at 0x%x (+0x%x) is not loadable above 1 MiB" % (paddr, memsz))
    sectors = 1 + (filesz + SECTOR - 1) // SECTOR
    if sectors * SECTOR > STAGE_LIMIT:
        die("segment too big for the real-mode staging area: %d bytes" % filesz)
    struct.pack_into("<H", boot, 0x1E8, sectors)
    struct.pack_into("<IIII", boot, 0x1EC, paddr, filesz, memsz, entry)
    disk = bytearray(boot) + bytearray(SECTOR) + bytearray(elf[off:off + filesz])
    disk += bytearray(-len(disk) % CYLINDER)
    with open(sys.argv[3], "wb") as f:
        f.write(disk)


if __name__ == "__main__":
    main()
