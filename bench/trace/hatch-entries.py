#!/usr/bin/env python3
"""Where the kernel's instructions of a hatch go, by kernel entry: reads QEMU `-singlestep -d
exec,nochain` output (a file or pipe) from the first entry to START to the first entry to
STOP after it (hex addresses), counts every kernel instruction against the user-mode
instruction executed just before the kernel was entered (the system call's site), and lists
per round, for the 25 dearest sites, the kernel instructions, the entries and the function
the site is in (`addr2line` on the user ELF), then the kernel functions (outermost) of the
dearest site. Usage: hatch-entries.py TRACE START STOP ROUNDS KERNEL_ELF USER_ELF"""
import collections, sys

from tracelib import KERNEL, frames, window

trace, start, stop, rounds, kernel, user = sys.argv[1:7]
start, stop, rounds = int(start, 16), int(stop, 16), int(rounds)
per_site = collections.Counter()
entries = collections.Counter()
site_pcs = collections.defaultdict(collections.Counter)
prev = 0
site = None
for pc in window(trace, start, stop):
    if pc >= KERNEL:
        if prev < KERNEL:
            site = prev
            entries[site] += 1
        per_site[site] += 1
        site_pcs[site][pc] += 1
    prev = pc


def functions(elf, pcs, outermost):
    """pc -> its outermost or innermost function."""
    return {pc: found[-1 if outermost else 0][0] for pc, found in frames(elf, pcs).items() if found}


print(f'kernel instructions per round by system call site ({rounds} rounds):')
sites = [s for s, _ in per_site.most_common(25)]
names = functions(user, [s for s in sites if s is not None], False)
for s in sites:
    where = f'{s:#x} {names.get(s, "?")[:110]}' if s is not None else '?'
    print(f'{per_site[s] / rounds:9.0f} {entries[s] / rounds:5.1f} entries  {where}')
if sites:
    top = sites[0]
    pcs = site_pcs[top]
    outer = functions(kernel, list(pcs), True)
    by_function = collections.Counter()
    for pc, c in pcs.items():
        by_function[outer.get(pc, '?')[:100]] += c
    print(f'== the dearest site, by kernel function (outermost)')
    for name, c in by_function.most_common(20):
        print(f'{c / rounds:9.0f}  {name}')
