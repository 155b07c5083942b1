# Makefile: builds the kernel, the user programs and the disk image, and runs
# them under QEMU.
#
#   make qemu          build everything and boot to a shell ($ prompt)
#   make qemu-gdb      the same, stopped for gdb-multiarch (see .gdbinit)
#   make check         every test; ends with "N passed, N failed"
#   make host-tests    only the host unit tests (tests/host)
#   make cm3           the Cortex-M3 image (kernel/cm3/build/cm3.elf) and its sizes
#   make qemu-cm3      run it on QEMU's lm3s6965evb; UART2 on a TCP port
#   make clean
#
# Variables: CPUS=n (harts, default 3), LEGACY=1 (legacy virtio-mmio transport),
# BARE=1 (only the disk: no network, entropy or second console device).
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
CFLAGS += -MD -I. -I$K -I$V -I$K/net
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
  $K/blkbench.o \
  $K/vos_riscv.o \
  $K/devfiles.o \
  $K/sysnet.o \
  $K/initblob.o \
  $V/virtio_mmio.o \
  $V/virtq.o \
  $V/virtio_blk.o \
  $V/virtio_console.o \
  $V/virtio_rng.o \
  $V/virtio_net.o \
  $K/net/net.o \
  $K/net/eth.o \
  $K/net/arp.o \
  $K/net/ip.o \
  $K/net/icmp.o \
  $K/net/udp.o

UPROGS = \
  $U/_blkbench \
  $U/_cat \
  $U/_echo \
  $U/_forktest \
  $U/_fsbench \
  $U/_fscrash \
  $U/_fsstress \
  $U/_grep \
  $U/_grind \
  $U/_halt \
  $U/_init \
  $U/_kill \
  $U/_ln \
  $U/_ls \
  $U/_lsdev \
  $U/_mkdir \
  $U/_netstat \
  $U/_nettest \
  $U/_ping \
  $U/_rand \
  $U/_rm \
  $U/_sh \
  $U/_stressfs \
  $U/_udpecho \
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

# The image holds README.md twice: as README.md, and as README because
# programs written for xv6 (its usertests among them) open "README".
mkfs/README: README.md
	cp README.md $@

fs.img: mkfs/mkfs README.md mkfs/README $(UPROGS)
	mkfs/mkfs fs.img README.md mkfs/README $(UPROGS)

# The host-side checker of file-system images (mkfs/fsck.c): `make fsck`
# checks fs.img, `make fsck IMG=tests/out/crash.img` another image.
mkfs/fsck: mkfs/fsck.c $K/fs.h $K/param.h $K/types.h $K/stat.h
	gcc -Wall -Werror -O2 -I. -o $@ mkfs/fsck.c

IMG ?= fs.img
.PHONY: fsck
fsck: mkfs/fsck
	mkfs/fsck $(IMG)

# Keep the intermediate objects: they are handy to read and to debug.
.PRECIOUS: %.o

-include $K/*.d $V/*.d $K/net/*.d $U/*.d

# ---- running ----
CPUS ?= 3
GDBPORT = $(shell expr `id -u` % 5000 + 25000)

QEMUOPTS = -machine virt -bios default -kernel $K/kernel -m 128M -smp $(CPUS) -nographic
ifndef LEGACY
QEMUOPTS += -global virtio-mmio.force-legacy=false
endif
QEMUOPTS += -drive file=fs.img,if=none,format=raw,id=x0
QEMUOPTS += -device virtio-blk-device,drive=x0,bus=virtio-mmio-bus.0
# The other virtio devices (README: "Network, second console, /dev/random"):
# entropy; a NIC on QEMU user networking (guest 10.0.2.15, gateway 10.0.2.2)
# with host UDP port NETPORT forwarded to guest port 2000 and every frame
# captured in packets.pcap; a virtio console on local TCP port VCONSPORT.
NETPORT   ?= $(shell expr `id -u` % 5000 + 35000)
VCONSPORT ?= $(shell expr `id -u` % 5000 + 40000)
ifndef BARE
QEMUOPTS += -device virtio-rng-device
QEMUOPTS += -netdev user,id=n0,hostfwd=udp:127.0.0.1:$(NETPORT)-:2000
QEMUOPTS += -device virtio-net-device,netdev=n0
QEMUOPTS += -object filter-dump,id=f0,netdev=n0,file=packets.pcap
QEMUOPTS += -chardev socket,id=c0,host=127.0.0.1,port=$(VCONSPORT),server=on,wait=off
QEMUOPTS += -device virtio-serial-device -device virtconsole,chardev=c0
endif

.PHONY: qemu qemu-gdb
qemu: all
	@echo "*** booting; to leave QEMU type Ctrl-a x ***"
	@test -n "$(BARE)" || echo "*** second shell: nc localhost $(VCONSPORT); guest UDP port 2000 is host port $(NETPORT); capture: packets.pcap ***"
	$(QEMU) $(QEMUOPTS)

.gdbinit: .gdbinit.tmpl
	sed "s/:1234/:$(GDBPORT)/" < $^ > $@

qemu-gdb: all .gdbinit
	@echo "*** now run 'gdb-multiarch' in another window (in this directory) ***"
	$(QEMU) $(QEMUOPTS) -S -gdb tcp::$(GDBPORT)

# ---- tests ----
# ---- the Cortex-M3 port: same virtio core, software devices ----
# kernel/cm3/Makefile does the building (arm-none-eabi-gcc, Thumb-2).
# UART0 is the terminal (a shell), UART1 goes nowhere, UART2 (the third
# -serial) is the virtio-console device's wire, on a local TCP port.
CM3PORT = $(shell expr `id -u` % 5000 + 30000)

.PHONY: cm3 qemu-cm3
cm3: setup
	$(MAKE) -C kernel/cm3

qemu-cm3: cm3
	@echo "*** Cortex-M3: this terminal is UART0 (shell; to leave QEMU type Ctrl-a x)"
	@echo "*** UART2 echoes through virtio-console: in another terminal run  nc localhost $(CM3PORT)"
	qemu-system-arm -M lm3s6965evb -nographic -kernel kernel/cm3/build/cm3.elf \
	  -serial mon:stdio -serial null -serial tcp:127.0.0.1:$(CM3PORT),server=on,wait=off

.PHONY: check host-tests
host-tests: setup
	$(MAKE) -C tests/host check

check: all cm3 mkfs/fsck
	@$(PYTHON) tests/run_tests.py

# File-system benchmark and crash test (README: "Disk and durability").
#   make bench            one QEMU: fsbench (workload 1 in baseline and full
#                         mode, a 16 MB file) and blkbench (raw device)
#   make crashtest N=200  N crash points (make check runs 20)
N ?= 200
.PHONY: bench crashtest
bench: all mkfs/fsck
	@$(PYTHON) tests/qemu/bench.py

crashtest: all mkfs/fsck
	@$(PYTHON) tests/qemu/crashtest.py -n $(N)

clean:
	rm -f $K/*.o $K/*.d $K/*.asm $K/*.sym $K/kernel $K/initcode.out $K/initcode.bin \
	  $V/*.o $V/*.d $K/net/*.o $K/net/*.d $U/*.o $U/*.d $U/*.asm $U/usys.S $(UPROGS) \
	  mkfs/mkfs mkfs/fsck mkfs/README fs.img .gdbinit
	rm -rf tests/host/build tests/qemu/__pycache__ tests/out kernel/cm3/build
