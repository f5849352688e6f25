#!/bin/bash
# Where the instructions of a hatch go, by function (docs/benchmarks.md, "Where a hatch
# goes"): boots the release hatch benchmark as `cargo xtask bench hatch` does, with QEMU's
# `-singlestep -d exec,nochain` trace into a pipe, counts every instruction executed during
# the first row's rounds (the empty egg: 220 hatches, from the driver's first entry into
# `hatchbench::time` to its next print) and lists them per round by function, by source line
# and the copies and fills by call site (bench/trace/hatch-profile.py).
# With --by-entry, the kernel's instructions are listed by the system call site that
# entered the kernel instead (bench/trace/hatch-entries.py).
# Run `cargo xtask bench hatch` first (it builds what this boots). Takes about a minute.
# Usage: hatch-profile.sh [--by-entry]
set -eu
cd "$(dirname "$0")/../.."
kernel=target/kernel/x86_64-unknown-none/release/hatchery
loader=target/user/x86_64-unknown-none/release/hatchery-loader
user=target/user/x86_64-unknown-none/release/hatchbench
bundle=build/release/bench/hatchbench.bundle.cpio
for f in "$kernel" "$loader" "$user" "$bundle"; do
    [ -f "$f" ] || { echo "hatch-profile: no $f: run \`cargo xtask bench hatch\` first" >&2; exit 1; }
done
start=$(nm -C "$user" | awk '$3 == "hatchbench::time" { print $1 }')
stop=$(nm -C "$user" | awk '$3 == "core::fmt::write" { print $1 }')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkfifo "$work/trace"
qemu-system-x86_64 -M q35 -bios /usr/share/qemu/qboot.rom -kernel "$loader" -initrd "$bundle" \
    -append exit -m 256M -smp 1 -nodefaults -display none -no-reboot \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -serial "file:$work/serial" \
    -icount shift=0 -singlestep -d exec,nochain -D "$work/trace" &
qemu=$!
script=bench/trace/hatch-profile.py
[ "${1:-}" = --by-entry ] && script=bench/trace/hatch-entries.py
python3 "$script" "$work/trace" "$start" "$stop" 220 "$kernel" "$user" || true
kill "$qemu" 2>/dev/null || true
wait "$qemu" 2>/dev/null || true
