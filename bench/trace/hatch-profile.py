#!/usr/bin/env python3
"""Where the instructions of a hatch go, by function: reads QEMU `-singlestep -d exec,nochain`
output (a file or pipe) and counts each executed program counter from the first entry to
START to the first entry to STOP after it (hex addresses), then lists the counts per round
grouped by outermost function, innermost inlined function and source line (`addr2line` on
the kernel and user ELF files), and the copies and fills (memcpy, memset, memmove) by call
site. Usage: hatch-profile.py TRACE START STOP ROUNDS KERNEL_ELF USER_ELF (TOP=N in the
environment lists N lines per grouping, 45 by default)"""
import collections, os, subprocess, sys

from tracelib import KERNEL, frames, window

trace, start, stop, rounds, kernel, user = sys.argv[1:7]
start, stop, rounds = int(start, 16), int(stop, 16), int(rounds)


def symbols(elf, names):
    """Address ranges of the functions `names` in `elf`."""
    out = subprocess.run(['nm', '-S', elf], capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] in names:
            a = int(parts[0], 16)
            found.append((('K ' if a >= KERNEL else 'U ') + parts[3], a, a + int(parts[1], 16)))
    return found


copies = symbols(kernel, {'memcpy', 'memset', 'memmove'}) + symbols(user, {'memcpy', 'memset', 'memmove'})
counts = collections.Counter()
site_cost = collections.Counter()
site_calls = collections.Counter()
prev = 0
site = None
for pc in window(trace, start, stop):
    counts[pc] += 1
    hit = next((n for n, s, e in copies if s <= pc < e), None)
    if hit:
        if site is None or site[0] != hit:
            site = (hit, prev)
            site_calls[site] += 1
        site_cost[site] += 1
    else:
        site = None
    prev = pc


res = frames(kernel, [p for p in counts if p >= KERNEL])
res.update(frames(user, [p for p in counts if p < KERNEL]))
groups = {'outermost function': collections.Counter(), 'innermost function': collections.Counter(),
          'source line': collections.Counter()}
for p, c in counts.items():
    found = res.get(p) or [('?', '?')]
    side = 'K ' if p >= KERNEL else 'U '
    groups['outermost function'][side + found[-1][0][:100]] += c
    groups['innermost function'][side + found[0][0][:100]] += c
    groups['source line'][side + found[0][1]] += c
total = sum(counts.values())
in_kernel = sum(c for p, c in counts.items() if p >= KERNEL)
print(f'{total} instructions in {rounds} rounds: {total / rounds:.0f} per round, '
      f'{in_kernel / rounds:.0f} of them in the kernel (K), the rest in user mode (U)')
for name, counter in groups.items():
    print(f'== per round, by {name}')
    for key, c in counter.most_common(int(os.environ.get('TOP', '45'))):
        print(f'{c / rounds:9.0f}  {key}')
print('== copies and fills per round, by call site (instructions, calls)')
for (name, at), c in site_cost.most_common(30):
    found = res.get(at) or frames(kernel if at >= KERNEL else user, [at]).get(at) or [('?', '?')]
    where = ' <- '.join(f'{f} {l}' for f, l in found[:3])
    print(f'{c / rounds:9.0f} {site_calls[(name, at)] / rounds:5.1f}  {name} from {at:#x} {where[:160]}')
