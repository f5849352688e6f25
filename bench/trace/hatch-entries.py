#!/usr/bin/env python3
"""Where the kernel's instructions of a hatch go, by kernel entry: reads QEMU `-singlestep -d
exec,nochain` output (a file or pipe) from the first entry to START to the first entry to
STOP after it (hex addresses), counts every kernel instruction against the user-mode
instruction executed just before the kernel was entered (the system call's site), and lists
per round, for the 25 dearest sites, the kernel instructions, the entries and the function
the site is in (`addr2line` on the user ELF), then the kernel functions (outermost) of the
dearest site. Usage: hatch-entries.py TRACE START STOP ROUNDS KERNEL_ELF USER_ELF"""
import collections, re, subprocess, sys

trace, start, stop, rounds, kernel, user = sys.argv[1:7]
start, stop, rounds = int(start, 16), int(stop, 16), int(rounds)
KERNEL = 1 << 63
pat = re.compile(rb'\[[0-9a-f]+/([0-9a-f]+)/')
per_site = collections.Counter()
entries = collections.Counter()
site_pcs = collections.defaultdict(collections.Counter)
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
        if on and pc >= KERNEL:
            if prev < KERNEL:
                site = prev
                entries[site] += 1
            per_site[site] += 1
            site_pcs[site][pc] += 1
        prev = pc


def functions(elf, pcs, outermost):
    """pc -> function name (`addr2line -i`: the innermost frame first)."""
    if not pcs:
        return {}
    out = subprocess.run(['addr2line', '-e', elf, '-f', '-i', '-C', '-a'] + [hex(p) for p in pcs],
                         capture_output=True, text=True).stdout.split('\n')
    res, cur, i = {}, None, 0
    while i < len(out):
        if re.fullmatch(r'0x[0-9a-f]{16}', out[i]):
            cur, i = int(out[i], 16), i + 1
            continue
        if cur is not None and out[i] and (outermost or cur not in res):
            res[cur] = out[i]
        i += 2
    return res


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
