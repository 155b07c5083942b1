# Makefile: builds the kernel, the user programs and the disk image, and runs
# them under QEMU.
#
#   make qemu          build everything and boot to a shell ($ prompt)
#   make qemu-gdb      the same, stopped for gdb-multiarch (see .gdbinit)
#   make check         every test; ends with "N passed, N failed"
#   make host-tests    only the host unit tests (tests/host)
#   make fuzz          the system-call fuzzer, MINUTES=10 of new seeds
#   make cm3           the Cortex-M3 image (build/cm3/cm3.elf) and its sizes
#   make reader        the annotated source as a static site (build/reader/index.html)
#   make trace CMD='cat README.md'   record what a command does to the virtqueues
#                      and step through it (build/trace/index.html; TRACEDEV=blk,net ...;
#                      PACKED=1 on the packed ring)
#   make grade         grade a lab (in a lab's starter; LAB=NAME in this tree);
#                      labs/README.md lists the labs
#   make lab LAB=vq DEST=dir    cut a lab's starter; make labs DEST=dir: every lab
#   make autograder LAB=vq      the lab's Gradescope autograder zip
#   make check-labs    cut every starter, show each fails and the solution passes
#   make qemu-cm3      run it on QEMU's lm3s6965evb; UART2 on a TCP port
#   make clean
#
# Variables: CPUS=n (harts, default 3), LEGACY=1 (legacy virtio-mmio transport),
# PCI=1 (the devices on PCI instead; PCI_LEGACY=1, PCI_TRANSITIONAL=1: see
# "running" below), BARE=1 (only the disk: no network, entropy or second
# console device),
# PACKED=1 (every device offers the packed virtqueue, virtio 1.2 2.8).
# Missing Debian packages are installed by scripts/setup.sh, which every
# target that needs a tool runs first (it does nothing when all is there).

# Where things are (docs/ARCHITECTURE.md draws the layers):
#   kernel/       the RISC-V kernel (xv6's core: processes, memory, traps, files)
#   kernel/glue/  where that kernel meets the portable code: the device table,
#                 the disk, /dev files, sockets, the OS interface for virtio
#   virtio/       the portable virtio core: transport, virtqueue, drivers
#   net/          the portable network stack
#   devmodel/     the device side: software virtio devices (Cortex-M3, host tests)
#   cm3/          the Cortex-M3 port
#   bench/        benchmarks (the kernel's half and the user programs)
#   user/, mkfs/  user programs; the host tools that build and check fs.img
# Everything the build makes goes under build/ (objects, listings, the
# kernel at build/kernel/kernel, the user programs at build/user/_NAME),
# so the source folders hold only source. Only fs.img stays at the top.

K = kernel
U = user
B = build

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
CFLAGS += -MD -I. -I$K -I$K/glue -Ivirtio -Inet -Ibench 
ASFLAGS = $(CFLAGS)
LDFLAGS = -z max-page-size=4096

# The kernel's sources, by folder.
KSRC = entry.S main.c sbi.c fdt.c plic.c uart.c printf.c console.c kalloc.c \
       string.c spinlock.c sleeplock.c vm.c proc.c swtch.S trampoline.S \
       kernelvec.S trap.c syscall.c sysproc.c exec.c pipe.c bio.c bio_fast.c log.c \
       fs.c fs_fast.c file.c sysfile.c initblob.S
GLUESRC = vdev.c pci.c disk.c vos_riscv.c devfiles.c sysnet.c vtrace.c
VIRTIOSRC = virtio_transport.c virtio_mmio.c virtio_pci.c virtq.c virtq_packed.c virtq_trace.c virtio_dev.c virtio_blk.c virtio_console.c virtio_rng.c virtio_net.c
NETSRC = net.c eth.c arp.c ip.c icmp.c udp.c
BENCHSRC = kblkbench.c

obj = $(patsubst %.c,$B/$(1)/%.o,$(patsubst %.S,$B/$(1)/%.o,$(2)))
KOBJS = $(call obj,$K,$(KSRC)) $(call obj,$K/glue,$(GLUESRC)) \
        $(call obj,virtio,$(VIRTIOSRC)) $(call obj,net,$(NETSRC)) \
        $(call obj,bench,$(BENCHSRC))

UPROGS = \
  $B/$U/_blkbench \
  $B/$U/_cat \
  $B/$U/_echo \
  $B/$U/_forktest \
  $B/$U/_fsbench \
  $B/$U/_fscrash \
  $B/$U/_fsstress \
  $B/$U/_grep \
  $B/$U/_grind \
  $B/$U/_halt \
  $B/$U/_init \
  $B/$U/_kill \
  $B/$U/_labtest \
  $B/$U/_ln \
  $B/$U/_ls \
  $B/$U/_lsdev \
  $B/$U/_mkdir \
  $B/$U/_netstat \
  $B/$U/_nettest \
  $B/$U/_ping \
  $B/$U/_rand \
  $B/$U/_rm \
  $B/$U/_scfuzz \
  $B/$U/_sh \
  $B/$U/_stressfs \
  $B/$U/_udpecho \
  $B/$U/_usertests \
  $B/$U/_vtrace \
  $B/$U/_wc \
  $B/$U/_zombie

ULIB = $B/$U/ulib.o $B/$U/usys.o $B/$U/printf.o $B/$U/umalloc.o

all: setup $B/$K/kernel fs.img

# ---- set-up: install what is missing (Debian/Ubuntu; sudo when not root) ----
# SETUP=grade checks only what building and grading a lab needs.
.PHONY: setup
setup:
	@sh scripts/setup.sh $(SETUP)

# ---- compiling: one rule for every folder; the object lands in build/ ----
$B/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$B/%.o: %.S
	@mkdir -p $(@D)
	$(CC) $(ASFLAGS) -c -o $@ $<

# ---- kernel ----
$B/$K/kernel: $(KOBJS) kernel.ld
	$(LD) $(LDFLAGS) -T kernel.ld -o $@ $(KOBJS)
	$(OBJDUMP) -S $@ > $B/$K/kernel.asm
	$(OBJDUMP) -t $@ | sed '1,/SYMBOL TABLE/d; s/ .* / /; /^$$/d' > $B/$K/kernel.sym

# The first user program is assembled on its own, linked at address 0 and
# embedded in the kernel as raw bytes (initblob.S uses .incbin, and finds
# initcode.bin through).
$B/$K/initcode.bin: $K/initcode.S
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -nostdinc -c $K/initcode.S -o $B/$K/initcode.o
	$(LD) $(LDFLAGS) -N -e start -Ttext 0 -o $B/$K/initcode.out $B/$K/initcode.o
	$(OBJCOPY) -S -O binary $B/$K/initcode.out $@

$B/$K/initblob.o: $K/initblob.S $B/$K/initcode.bin

# ---- user programs (the benchmark programs live in bench/) ----
$B/$U/usys.S: $U/usys.py $K/syscall.h
	@mkdir -p $(@D)
	$(PYTHON) $U/usys.py > $@

$B/$U/usys.o: $B/$U/usys.S
	$(CC) $(CFLAGS) -c -o $@ $<

$B/$U/_%: $B/$U/%.o $(ULIB) $U/user.ld
	$(LD) $(LDFLAGS) -T $U/user.ld -o $@ $< $(ULIB)
	$(OBJDUMP) -S $@ > $B/$U/$*.asm

$B/$U/%.o: bench/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# ---- disk image ----
$B/mkfs/mkfs: mkfs/mkfs.c $K/fs.h $K/param.h $K/types.h $K/stat.h
	@mkdir -p $(@D)
	gcc -Wall -Werror -O2 -I. -o $@ mkfs/mkfs.c

# The image holds README.md twice: as README.md, and as README because
# programs written for xv6 (its usertests among them) open "README".
$B/mkfs/README: README.md
	@mkdir -p $(@D)
	cp README.md $@

fs.img: $B/mkfs/mkfs README.md $B/mkfs/README $(UPROGS)
	$B/mkfs/mkfs fs.img README.md $B/mkfs/README $(UPROGS)

# The host-side checker of file-system images (mkfs/fsck.c): `make fsck`
# checks fs.img, `make fsck IMG=tests/out/crash.img` another image.
$B/mkfs/fsck: mkfs/fsck.c $K/fs.h $K/param.h $K/types.h $K/stat.h
	@mkdir -p $(@D)
	gcc -Wall -Werror -O2 -I. -o $@ mkfs/fsck.c

IMG ?= fs.img
.PHONY: fsck
fsck: $B/mkfs/fsck
	$B/mkfs/fsck $(IMG)

# Keep the intermediate objects: they are handy to read and to debug.
.PRECIOUS: $B/%.o $B/$U/%.o

-include $(shell find $B -name '*.d' 2>/dev/null)

# ---- running ----
CPUS ?= 3
GDBPORT = $(shell expr `id -u` % 5000 + 25000)

QEMUOPTS = -machine virt -bios default -kernel $B/$K/kernel -m 128M -smp $(CPUS) -nographic
ifndef LEGACY
QEMUOPTS += -global virtio-mmio.force-legacy=false
endif
# QEMU offers VIRTIO_F_RING_PACKED only with packed=on, and on virtio-mmio
# only on the modern transport (so not with LEGACY=1 or PCI_LEGACY=1; with
# PCI=1 the virtio-*-pci functions carry the same virtio-*-device, so the
# globals reach them too). The boot table and lsdev then say "packed" in
# their ring column. tests/qemu/qemu.py
# (PACKED_ARGS) starts the tests' packed machines with the same options.
ifdef PACKED
QEMUOPTS += -global virtio-blk-device.packed=on -global virtio-net-device.packed=on
QEMUOPTS += -global virtio-rng-device.packed=on -global virtio-serial-device.packed=on
endif
QEMUOPTS += -drive file=fs.img,if=none,format=raw,id=x0
# PCI=1 attaches every device as a virtio-*-pci function on the PCIe bus
# instead of a virtio-mmio slot (virtio 1.2 section 4.1; the kernel's side
# is kernel/glue/pci.c and virtio/virtio_pci.c). The functions are
# modern-only (disable-legacy=on: device IDs 0x1040 + type). With
# PCI_LEGACY=1 they are legacy-only (disable-modern=on: the I/O BAR header
# of 4.1.4.10); with PCI_TRANSITIONAL=1 they offer both, as QEMU's plain
# virtio-*-pci does (device IDs 0x1000-0x103f), and the kernel uses the
# modern capabilities.
ifdef PCI
VDEV = pci
ifdef PCI_LEGACY
VDEVOPT = ,disable-modern=on
else ifdef PCI_TRANSITIONAL
VDEVOPT =
else
VDEVOPT = ,disable-legacy=on
endif
QEMUOPTS += -device virtio-blk-pci,drive=x0$(VDEVOPT)
# virtio-net-pci would load a boot ROM for the firmware; there is none to load
NETROM = ,romfile=
else
VDEV = device
VDEVOPT =
QEMUOPTS += -device virtio-blk-device,drive=x0,bus=virtio-mmio-bus.0
endif
# The other virtio devices (README: "Network, second console, /dev/random"):
# entropy; a NIC on QEMU user networking (guest 10.0.2.15, gateway 10.0.2.2)
# with host UDP port NETPORT forwarded to guest port 2000 and every frame
# captured in packets.pcap; a virtio console on local TCP port VCONSPORT.
NETPORT   ?= $(shell expr `id -u` % 5000 + 35000)
VCONSPORT ?= $(shell expr `id -u` % 5000 + 40000)
ifndef BARE
QEMUOPTS += -device virtio-rng-$(VDEV)$(VDEVOPT)
QEMUOPTS += -netdev user,id=n0,hostfwd=udp:127.0.0.1:$(NETPORT)-:2000
QEMUOPTS += -device virtio-net-$(VDEV),netdev=n0$(VDEVOPT)$(NETROM)
QEMUOPTS += -object filter-dump,id=f0,netdev=n0,file=packets.pcap
QEMUOPTS += -chardev socket,id=c0,host=127.0.0.1,port=$(VCONSPORT),server=on,wait=off
QEMUOPTS += -device virtio-serial-$(VDEV)$(VDEVOPT) -device virtconsole,chardev=c0
endif
# More devices of your own, after those above (a virtserialport needs the
# virtio-serial-device before it), e.g. README's second console port.
QEMUOPTS += $(QEMUEXTRA)

.PHONY: qemu qemu-gdb
qemu: all
	@echo "*** booting; to leave QEMU type Ctrl-a x ***"
	@test -n "$(BARE)" || echo "*** second shell: nc localhost $(VCONSPORT); guest UDP port 2000 is host port $(NETPORT); capture: packets.pcap ***"
	$(QEMU) $(QEMUOPTS)

.gdbinit: .gdbinit.tmpl
	sed "s/:1234/:$(GDBPORT)/" < $^ > $@

qemu-gdb: all .gdbinit
	@echo "*** now run 'gdb-multiarch' in another window (in this directory) ***"
	$(QEMU) $(QEMUOPTS) -S -gdb tcp:127.0.0.1:$(GDBPORT)

# ---- tests ----
# ---- the Cortex-M3 port: same virtio core, software devices ----
# cm3/Makefile does the building (arm-none-eabi-gcc, Thumb-2).
# UART0 is the terminal (a shell), UART1 goes nowhere, UART2 (the third
# -serial) is the virtio-console device's wire, on a local TCP port.
CM3PORT = $(shell expr `id -u` % 5000 + 30000)

.PHONY: cm3 qemu-cm3
cm3: setup
	$(MAKE) -C cm3

qemu-cm3: cm3
	@echo "*** Cortex-M3: this terminal is UART0 (shell; to leave QEMU type Ctrl-a x)"
	@echo "*** UART2 echoes through virtio-console: in another terminal run  nc localhost $(CM3PORT)"
	qemu-system-arm -M lm3s6965evb -nographic -kernel build/cm3/cm3.elf \
	  -serial mon:stdio -serial null -serial tcp:127.0.0.1:$(CM3PORT),server=on,wait=off

# The annotated reader of the driver source (tools/reader/reader.py): a
# static site, opened from disk; the last line printed is its index page.
# Debian's /usr/bin/python3, which sees python3-pygments and python3-markdown.
.PHONY: reader
reader: setup
	@/usr/bin/python3 tools/reader/reader.py

# The ring you can watch (tools/trace/run.py): boot, record the queues of
# TRACEDEV (blk, console, net, rng or all; comma-separated) while CMD runs
# at the guest's shell, and write a page that steps through the recording;
# the last line printed is its path. PACKED=1: every device on the packed ring.
CMD ?= cat README.md
TRACEDEV ?= blk
.PHONY: trace
trace: all
	@$(PYTHON) tools/trace/run.py --cmd '$(CMD)' --devices '$(TRACEDEV)' --cpus $(CPUS) $(if $(PACKED),--packed)

.PHONY: check host-tests
host-tests: setup
	$(MAKE) -C tests/host check

check: all cm3 $B/mkfs/fsck
	@$(PYTHON) tests/run_tests.py

# File-system benchmark and crash test (README: "Disk and durability").
#   make bench            one QEMU: fsbench (workload 1 in baseline and full
#                         mode, a 16 MB file) and blkbench (raw device)
#   make crashtest N=200  N crash points (make check runs 20)
N ?= 200
.PHONY: bench crashtest
bench: all $B/mkfs/fsck
	@RUNS="$(RUNS)" $(PYTHON) tests/qemu/bench.py

crashtest: all $B/mkfs/fsck
	@$(PYTHON) tests/qemu/crashtest.py -n $(N)

# File-system image fuzzing (tests/host/fsck/fsfuzz.c damages images):
# fsck, built with ASan/UBSan, on N damaged copies of a small image, then
# the kernel booted on BOOTS damaged copies of fs.img (tests/qemu/test_fsfault.py).
# Both print their seed. make check runs 300 images and 6 boots, seed 1.
#   make fsfuzz                          5000 images, 100 boots, random seeds
#   make fsfuzz N=20000 BOOTS=300 SEED=7
BOOTS ?= 100
SEED ?= 0
FSFUZZ_N = $(if $(filter command line,$(origin N)),$(N),5000)
.PHONY: fsfuzz
fsfuzz: all
	$(MAKE) -s -C tests/host/fsck check N=$(FSFUZZ_N) FSFUZZ_SEED=$(SEED)
	@$(PYTHON) tests/qemu/test_fsfault.py --boots $(BOOTS) --seed $(SEED)

# The system-call fuzzer (user/scfuzz.c) with new seeds, a minute each,
# each round followed by usertests -q and fsck; stops at the first failure
# and prints its seed (make check runs one short round).
#   make fuzz MINUTES=10
MINUTES ?= 10
.PHONY: fuzz
fuzz: all $B/mkfs/fsck
	@$(PYTHON) tests/qemu/fuzz.py --minutes $(MINUTES)

# ---- labs (labs/README.md; the tools are in tools/labs/) ----
#   make grade [LAB=vq] [TEST=name]   grade a lab: Score: N/M, exit 0 only at full marks
#   make lab LAB=vq DEST=dir          the lab's starter, a git repository, in dir
#   make labs DEST=dir                every lab's starter, in dir/NAME
#   make autograder LAB=vq [DEST=f]   the Gradescope autograder (default build/labs/vq-autograder.zip)
#   make check-labs                   the instructors' proof: each starter builds, fails
#                                     its tests for the handout's reasons; the solution passes
.PHONY: grade lab labs autograder check-labs
grade:
	@$(PYTHON) tools/labs/grade.py $(LAB) $(TEST)

lab:
	@test -n "$(LAB)" -a -n "$(DEST)" || { echo "usage: make lab LAB=name DEST=dir"; exit 2; }
	@$(PYTHON) tools/labs/cut.py $(LAB) $(DEST)

labs:
	@test -n "$(DEST)" || { echo "usage: make labs DEST=dir"; exit 2; }
	@$(PYTHON) tools/labs/cut.py --all $(DEST)

autograder:
	@test -n "$(LAB)" || { echo "usage: make autograder LAB=name [DEST=file.zip]"; exit 2; }
	@$(PYTHON) tools/labs/autograder.py $(LAB) $(DEST)

check-labs:
	@test -f tools/labs/checklabs.py || { echo "check-labs: the proof runs in the solution tree, not in a lab's starter"; exit 2; }
	@$(PYTHON) tools/labs/checklabs.py

clean:
	rm -rf $B fs.img .gdbinit tests/out tests/qemu/__pycache__
