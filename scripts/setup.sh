#!/bin/sh
# setup.sh: install the Debian/Ubuntu packages this project needs, if any
# are missing. Every `make` target that needs a tool runs this first; when
# everything is installed it only checks and prints nothing.
#
#   sh scripts/setup.sh          install what is missing (sudo when not root)
#   sh scripts/setup.sh grade    only what building and grading a lab needs
#                                (make grade, the Gradescope autograder, the
#                                GitHub workflow of a lab's starter: no
#                                debugger, no reader, no browser)
#
# Packages:
#   gcc-riscv64-unknown-elf  cross compiler, assembler, linker for the kernel
#   qemu-system-misc         qemu-system-riscv64
#   opensbi                  the firmware QEMU's `-bios default` loads
#   gcc-arm-none-eabi,
#   qemu-system-arm          the Cortex-M3 port
#   gdb-multiarch            `make qemu-gdb`
#   python3                  test harness and build scripts
#   gcc, make, libc6-dev     host tools (mkfs, host unit tests)
#   libasan8, libubsan1      sanitizer runtimes for the host tests
#   universal-ctags,
#   python3-pygments,
#   python3-markdown         `make reader`, the annotated source (tools/reader/)
#   chromium                 the reader's tests run it headless (tests/qemu/test_reader.py)
#   tcpdump                  reads packets.pcap, the network's capture (README, lab net)
#   netcat-openbsd           `nc`: the second console's TCP port (README, lab console)
set -e

# command or file that shows the package is there  ->  package
need="
riscv64-unknown-elf-gcc gcc-riscv64-unknown-elf
qemu-system-riscv64 qemu-system-misc
/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin opensbi
arm-none-eabi-gcc gcc-arm-none-eabi
qemu-system-arm qemu-system-arm
python3 python3
gcc gcc
make make
"
# The same for everything else the project's make targets use.
rest="
gdb-multiarch gdb-multiarch
chromium chromium
tcpdump tcpdump
nc netcat-openbsd
/usr/lib/python3/dist-packages/pygments python3-pygments
/usr/lib/python3/dist-packages/markdown python3-markdown
"
dpkg_need="libasan8 libubsan1 libc6-dev"
dpkg_rest="universal-ctags"
if [ "$1" != "grade" ]; then
  need="$need$rest"
  dpkg_need="$dpkg_need $dpkg_rest"
fi

missing=""
echo "$need" | {
  while read -r what pkg; do
    [ -z "$what" ] && continue
    case "$what" in
      /*) [ -e "$what" ] || missing="$missing $pkg" ;;
      *)  command -v "$what" >/dev/null 2>&1 || missing="$missing $pkg" ;;
    esac
  done
  # The sanitizer runtimes have no command to look for: ask dpkg.
  if command -v dpkg-query >/dev/null 2>&1; then
    for pkg in $dpkg_need; do
      dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $pkg"
    done
  fi

  [ -z "$missing" ] && exit 0

  echo "setup: installing$missing"
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
  elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "setup: need root or sudo to install:$missing" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -q --no-install-recommends $missing
}
