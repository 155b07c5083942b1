// elf.h: the parts of the ELF-64 executable format that exec() reads.
//
// Follows the System V ABI (gABI) "ELF-64 Object File Format" v1.5: the
// file header (section 3) and program headers (section 6), plus the
// RISC-V ELF psABI for the machine number (EM_RISCV = 243). Only
// little-endian, 64-bit, statically linked executables are accepted.
#ifndef ELF_H
#define ELF_H
#include "types.h"

// e_ident[]: the first 16 bytes of every ELF file.
#define EI_NIDENT     16
#define ELFMAG0       0x7f      // e_ident[0..3] = "\x7f" "ELF"
#define ELFMAG1       'E'
#define ELFMAG2       'L'
#define ELFMAG3       'F'
#define EI_CLASS      4
#define ELFCLASS64    2         // 64-bit objects
#define EI_DATA       5
#define ELFDATA2LSB   1         // little-endian
#define EI_VERSION    6
#define EV_CURRENT    1

#define ET_EXEC       2         // e_type: executable file
#define EM_RISCV      243       // e_machine

// The file header, at offset 0.
struct elfhdr {
  uchar  ident[EI_NIDENT];
  uint16 type;
  uint16 machine;
  uint32 version;
  uint64 entry;       // virtual address of the first instruction
  uint64 phoff;       // file offset of the program header table
  uint64 shoff;       // section headers: exec ignores them
  uint32 flags;
  uint16 ehsize;
  uint16 phentsize;   // size of one program header
  uint16 phnum;       // number of program headers
  uint16 shentsize;
  uint16 shnum;
  uint16 shstrndx;
};

// One program header: a segment to load (or other information).
struct proghdr {
  uint32 type;
  uint32 flags;
  uint64 off;         // where the segment's bytes start in the file
  uint64 vaddr;       // where they go in memory
  uint64 paddr;       // unused on machines with virtual memory
  uint64 filesz;      // bytes in the file; the rest up to memsz is zeroed
  uint64 memsz;
  uint64 align;
};

#define PT_LOAD  1       // proghdr.type: a loadable segment

// proghdr.flags
#define PF_X     0x1     // executable
#define PF_W     0x2     // writable
#define PF_R     0x4     // readable
#endif
