#!/usr/bin/env python3
"""Where the instructions of a hatch go, by function: reads QEMU `-singlestep -d exec,nochain`
output (a file or pipe) and counts each executed program counter from the first entry to
START to the first entry to STOP after it (hex addresses), then lists the counts per round
grouped by outermost function, innermost inlined function and source line (`addr2line` on
the kernel and user ELF files), and the copies and fills (memcpy, memset, memmove) by call
site. Usage: hatch-profile.py TRACE START STOP ROUNDS KERNEL_ELF USER_ELF (TOP=N in the
environment lists N lines per grouping, 45 by default)"""
import collections, os, re, subprocess, sys

trace, start, stop, rounds, kernel, user = sys.argv[1:7]
start, stop, rounds = int(start, 16), int(stop, 16), int(rounds)
KERNEL = 1 << 63


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
pat = re.compile(rb'\[[0-9a-f]+/([0-9a-f]+)/')
counts = collections.Counter()
site_cost = collections.Counter()
site_calls = collections.Counter()
on = False
prev = 0
site = None
with open(trace, 'rb') as f:
    for line in f:
        m = pat.search(line)
        if not m:
            continue
        pc = int(m.group(1), 16)
        if not on:
            on = pc == start
        elif pc == stop:
            break
        if on:
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


def resolve(elf, pcs):
    """pc -> [(function, file:line)], innermost first."""
    if not pcs:
        return {}
    out = subprocess.run(['addr2line', '-e', elf, '-f', '-i', '-C', '-a'] + [hex(p) for p in pcs],
                         capture_output=True, text=True).stdout.split('\n')
    res, cur, frames, i = {}, None, [], 0
    while i < len(out):
        line = out[i]
        if re.fullmatch(r'0x[0-9a-f]{16}', line):
            if cur is not None:
                res[cur] = frames
            cur, frames, i = int(line, 16), [], i + 1
            continue
        if i + 1 < len(out):
            frames.append((line, out[i + 1].split('/')[-1]))
        i += 2
    if cur is not None:
        res[cur] = frames
    return res


res = resolve(kernel, [p for p in counts if p >= KERNEL])
res.update(resolve(user, [p for p in counts if p < KERNEL]))
groups = {'outermost function': collections.Counter(), 'innermost function': collections.Counter(),
          'source line': collections.Counter()}
for p, c in counts.items():
    frames = res.get(p) or [('?', '?')]
    side = 'K ' if p >= KERNEL else 'U '
    groups['outermost function'][side + frames[-1][0][:100]] += c
    groups['innermost function'][side + frames[0][0][:100]] += c
    groups['source line'][side + frames[0][1]] += c
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
    frames = res.get(at) or resolve(kernel if at >= KERNEL else user, [at]).get(at) or [('?', '?')]
    where = ' <- '.join(f'{f} {l}' for f, l in frames[:3])
    print(f'{c / rounds:9.0f} {site_calls[(name, at)] / rounds:5.1f}  {name} from {at:#x} {where[:160]}')
