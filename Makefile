# Makefile: builds the kernel, the user programs and the disk image, and runs
# them under QEMU.
#
#   make qemu          build everything and boot to a shell ($ prompt)
#   make qemu-gdb      the same, stopped for gdb-multiarch (see .gdbinit)
#   make check         every test; ends with "N passed, N failed"
#   make host-tests    only the host unit tests (tests/host)
#   make clean
#
# Variables: CPUS=n (harts, default 3), LEGACY=1 (legacy virtio-mmio transport).
# Missing Debian packages are installed by scripts/setup.sh, which every
# target that needs a tool runs first (it does nothing when all is there).

K = kernel
U = user
V = kernel/virtio

TOOLPREFIX ?= riscv64-unknown-elf-
CC      = $(TOOLPREFIX)gcc
AS      = $(TOOLPREFIX)as
LD      = $(TOOLPREFIX)ld
OBJCOPY = $(TOOLPREFIX)objcopy
OBJDUMP = $(TOOLPREFIX)objdump
QEMU    = qemu-system-riscv64
PYTHON  = python3

CFLAGS  = -Wall -Werror -O2 -fno-omit-frame-pointer -ggdb -gdwarf-2
CFLAGS += -march=rv64gc -mabi=lp64d -mcmodel=medany -mno-relax
CFLAGS += -ffreestanding -fno-common -nostdlib -fno-builtin-printf
CFLAGS += -fno-stack-protector -fno-pie -no-pie
CFLAGS += -MD -I. -I$K -I$V
ASFLAGS = $(CFLAGS)
LDFLAGS = -z max-page-size=4096

KOBJS = \
  $K/entry.o \
  $K/main.o \
  $K/sbi.o \
  $K/fdt.o \
  $K/plic.o \
  $K/uart.o \
  $K/printf.o \
  $K/console.o \
  $K/kalloc.o \
  $K/string.o \
  $K/spinlock.o \
  $K/sleeplock.o \
  $K/vm.o \
  $K/proc.o \
  $K/swtch.o \
  $K/trampoline.o \
  $K/kernelvec.o \
  $K/trap.o \
  $K/syscall.o \
  $K/sysproc.o \
  $K/exec.o \
  $K/pipe.o \
  $K/bio.o \
  $K/log.o \
  $K/fs.o \
  $K/file.o \
  $K/sysfile.o \
  $K/vdev.o \
  $K/vos_riscv.o \
  $K/initblob.o \
  $V/virtio_mmio.o \
  $V/virtq.o \
  $V/virtio_blk.o

UPROGS = \
  $U/_cat \
  $U/_echo \
  $U/_forktest \
  $U/_grep \
  $U/_grind \
  $U/_halt \
  $U/_init \
  $U/_kill \
  $U/_ln \
  $U/_ls \
  $U/_lsdev \
  $U/_mkdir \
  $U/_rm \
  $U/_sh \
  $U/_stressfs \
  $U/_usertests \
  $U/_wc \
  $U/_zombie

ULIB = $U/ulib.o $U/usys.o $U/printf.o $U/umalloc.o

all: setup $K/kernel fs.img

# ---- set-up: install what is missing (Debian/Ubuntu; sudo when not root) ----
.PHONY: setup
setup:
	@sh scripts/setup.sh

# ---- kernel ----
$K/kernel: $(KOBJS) kernel.ld
	$(LD) $(LDFLAGS) -T kernel.ld -o $@ $(KOBJS)
	$(OBJDUMP) -S $@ > $K/kernel.asm
	$(OBJDUMP) -t $@ | sed '1,/SYMBOL TABLE/d; s/ .* / /; /^$$/d' > $K/kernel.sym

# The first user program is assembled on its own, linked at address 0 and
# embedded in the kernel as raw bytes (initblob.S uses .incbin).
$K/initcode.bin: $K/initcode.S
	$(CC) $(CFLAGS) -nostdinc -c $K/initcode.S -o $K/initcode.o
	$(LD) $(LDFLAGS) -N -e start -Ttext 0 -o $K/initcode.out $K/initcode.o
	$(OBJCOPY) -S -O binary $K/initcode.out $@

$K/initblob.o: $K/initblob.S $K/initcode.bin

# ---- user programs ----
$U/usys.S: $U/usys.py $K/syscall.h
	$(PYTHON) $U/usys.py > $@

$U/usys.o: $U/usys.S
	$(CC) $(CFLAGS) -c -o $@ $<

_%: %.o $(ULIB) $U/user.ld
	$(LD) $(LDFLAGS) -T $U/user.ld -o $@ $< $(ULIB)
	$(OBJDUMP) -S $@ > $*.asm

# ---- disk image ----
mkfs/mkfs: mkfs/mkfs.c $K/fs.h $K/param.h $K/types.h $K/stat.h
	gcc -Wall -Werror -O2 -I. -o $@ mkfs/mkfs.c

fs.img: mkfs/mkfs README.md $(UPROGS)
	mkfs/mkfs fs.img README.md $(UPROGS)

# Keep the intermediate objects: they are handy to read and to debug.
.PRECIOUS: %.o

-include $K/*.d $V/*.d $U/*.d

# ---- running ----
CPUS ?= 3
GDBPORT = $(shell expr `id -u` % 5000 + 25000)

QEMUOPTS = -machine virt -bios default -kernel $K/kernel -m 128M -smp $(CPUS) -nographic
ifndef LEGACY
QEMUOPTS += -global virtio-mmio.force-legacy=false
endif
QEMUOPTS += -drive file=fs.img,if=none,format=raw,id=x0
QEMUOPTS += -device virtio-blk-device,drive=x0,bus=virtio-mmio-bus.0

.PHONY: qemu qemu-gdb
qemu: all
	@echo "*** booting; to leave QEMU type Ctrl-a x ***"
	$(QEMU) $(QEMUOPTS)

.gdbinit: .gdbinit.tmpl
	sed "s/:1234/:$(GDBPORT)/" < $^ > $@

qemu-gdb: all .gdbinit
	@echo "*** now run 'gdb-multiarch' in another window (in this directory) ***"
	$(QEMU) $(QEMUOPTS) -S -gdb tcp::$(GDBPORT)

# ---- tests ----
.PHONY: check host-tests
host-tests: setup
	$(MAKE) -C tests/host check

check: all
	@$(PYTHON) tests/run_tests.py

clean:
	rm -f $K/*.o $K/*.d $K/*.asm $K/*.sym $K/kernel $K/initcode.out $K/initcode.bin \
	  $V/*.o $V/*.d $U/*.o $U/*.d $U/*.asm $U/usys.S $(UPROGS) \
	  mkfs/mkfs fs.img .gdbinit
	rm -rf tests/host/build tests/qemu/__pycache__ tests/out
