/* SPDX-License-Identifier: MIT */
/*
 * A 512-byte hard-disk boot sector that starts the unikernel the way QEMU's
 * PVH loader does, for emulators without a PVH loader (Bochs: its BIOS
 * boots sectors, and load32bitOSImage is gone since 2.7).
 *
 * Disk layout (written by tests/bochs/mkdisk.py):
 *   LBA 0      this sector, with the load parameters patched in (below)
 *   LBA 1      the kernel command line, NUL-terminated (the run script
 *              rewrites it per run)
 *   LBA 2..    the kernel's PT_LOAD segment, file part only
 *
 * The BIOS loads us at 0x7c00 in real mode, %dl = boot drive. We read
 * LBA 1.. to 0x10000 with INT 13h extensions (the segment must sit below
 * 640 KiB: at most 1264 sectors), open A20, enter 32-bit protected mode,
 * copy the segment to its physical address (1 MiB: unreachable from real
 * mode), zero its bss (QEMU's loader does, and the kernel relies on it),
 * build a struct hvm_start_info whose only used field is cmdline_paddr, and
 * jump to the PVH entry with %ebx pointing at it: from there on the kernel
 * runs exactly as under QEMU.
 */
#define STAGE 0x10000      /* where the disk contents land: LBA 1 */
#define START_INFO 0x6000  /* below the AP trampoline page (0x8000) */
#define CHUNK 64           /* sectors per read: 32 KiB, one segment step */

	.code16
	.section .text
	.globl bochs_boot
bochs_boot:
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw $0x7c00, %sp
	ljmp $0, $1f            /* some BIOSes enter at 07c0:0000 */
1:	movb %dl, drive

	/* Read `sectors` sectors from LBA 1 on, CHUNK at a time. */
	movw $1, dap_lba
	movw $(STAGE >> 4), dap_seg
2:	movw sectors, %cx
	jcxz 4f
	cmpw $CHUNK, %cx
	jbe 3f
	movw $CHUNK, %cx
3:	movw %cx, dap_count
	subw %cx, sectors
	movw $dap, %si
	movb drive, %dl
	movb $0x42, %ah
	int $0x13
	jc disk_error
	movw dap_count, %ax
	addw %ax, dap_lba
	shlw $5, %ax            /* sectors * 512 / 16 = paragraphs */
	addw %ax, dap_seg
	jmp 2b

4:	inb $0x92, %al          /* fast A20 */
	orb $0x02, %al
	andb $0xfe, %al
	outb %al, $0x92
	lgdtl gdt_ptr
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x08, $pm32

disk_error:
	movw $msg, %si
5:	lodsb
	testb %al, %al
	jz 6f
	outb %al, $0xe9         /* Bochs' debug port, if enabled */
	movw $0x3f8, %dx
	outb %al, %dx
	jmp 5b
6:	hlt
	jmp 6b

	.code32
pm32:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl $(STAGE + 512), %esi
	movl load_addr, %edi
	movl file_size, %ecx
	rep movsb
	movl mem_size, %ecx
	subl file_size, %ecx
	xorl %eax, %eax
	rep stosb               /* %edi continues at the end of the file part */
	movl $START_INFO, %edi
	movl $16, %ecx
	rep stosl               /* 64 bytes of start info, zeroed */
	movl $0x336ec578, START_INFO       /* XEN_HVM_START_MAGIC_VALUE */
	movl $1, START_INFO + 4            /* version */
	movl $STAGE, START_INFO + 24       /* cmdline_paddr: LBA 1 */
	movl $START_INFO, %ebx
	jmp *entry

	.balign 8
gdt:
	.quad 0
	.quad 0x00CF9A000000FFFF        /* 0x08: 32-bit code, flat */
	.quad 0x00CF92000000FFFF        /* 0x10: data, flat */
gdt_ptr:
	.word gdt_ptr - gdt - 1
	.long gdt

dap:	.byte 16, 0
dap_count:	.word 0
	.word 0                 /* offset */
dap_seg:	.word 0
dap_lba:	.quad 0

drive:	.byte 0
msg:	.asciz "bochs-boot: disk read error\n"

/* Load parameters at fixed offsets, patched by tests/bochs/mkdisk.py. */
	.org 0x1e8
sectors:	.word 0         /* 0x1e8: LBA 1.. to read (cmdline + segment) */
	.word 0
load_addr:	.long 0         /* 0x1ec: p_paddr */
file_size:	.long 0         /* 0x1f0: p_filesz */
mem_size:	.long 0         /* 0x1f4: p_memsz */
entry:	.long 0                 /* 0x1f8: PVH entry (physical) */
	.org 0x1fe
	.byte 0x55, 0xaa
	.section .note.GNU-stack,"",@progbits
