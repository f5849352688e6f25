#!/bin/bash
# Prints the instructions of one steady-state IPC fast-path round trip (docs/benchmarks.md,
# "By phase"): boots the release IPC benchmark as `cargo xtask bench ipc` does, with QEMU's
# `-singlestep -d exec,nochain` trace into a pipe, and lists the window between one
# `syscall_stub` entry and the entry two calls later once 150 windows in a row were
# identical (the timed loop), each kernel instruction with its source line.
# Run `cargo xtask bench ipc` first (it builds what this boots). Usage: ipc-round-trip.sh
# With REPEAT=30 PERIOD=3 MIN=1000 MAX=3500 in the environment it lists a window of three
# system calls instead: one round trip of the `ipc-1cap` loop (Call with a cap, the
# receiver's CNodeDelete, ReplyRecv), the first steady loop with three calls in that range
# (its windows repeat about 36 times in a row, not 150, so REPEAT must be lower).
set -eu
cd "$(dirname "$0")/../.."
kernel=target/kernel/x86_64-unknown-none/release/hatchery
loader=target/user/x86_64-unknown-none/release/hatchery-loader
bundle=build/release/bench/ipcbench.bundle.cpio
stub=$(nm "$kernel" | awk '$3 == "syscall_stub" { print $1 }')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkfifo "$work/trace"
qemu-system-x86_64 -M q35 -bios /usr/share/qemu/qboot.rom -kernel "$loader" -initrd "$bundle" \
    -append exit -m 256M -smp 1 -nodefaults -display none -no-reboot \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -serial "file:$work/serial" \
    -icount shift=0 -singlestep -d exec,nochain -D "$work/trace" &
qemu=$!
python3 bench/trace/window.py "$work/trace" "$stub" "${REPEAT:-150}" "${PERIOD:-2}" "${MIN:-200}" "${MAX:-3000}" > "$work/window" || true
kill "$qemu" 2>/dev/null || true
wait "$qemu" 2>/dev/null || true
objdump -d --no-show-raw-insn "$kernel" > "$work/disassembly"
python3 - "$work/window" "$work/disassembly" "$kernel" <<'PY'
import re, subprocess, sys
window, disassembly, kernel = sys.argv[1:4]
text = {}
for line in open(disassembly):
    m = re.match(r'\s*([0-9a-f]+):\s+(.*)', line)
    if m:
        text[int(m.group(1), 16)] = m.group(2).split('#')[0].strip()
pcs = [int(l, 16) for l in open(window)]
kernel_pcs = [hex(p) for p in pcs if p >= 1 << 63]
lines = subprocess.run(['addr2line', '-e', kernel] + kernel_pcs,
                       capture_output=True, text=True).stdout.split('\n')
k = 0
for p in pcs:
    if p < 1 << 63:
        print(f'{p:#018x}  user')
        continue
    print(f'{p:#018x}  {lines[k].split("/")[-1]:24} {text.get(p, "?")}')
    k += 1
print(f'{len(pcs)} instructions, {sum(p < 1 << 63 for p in pcs)} in user mode')
PY
