"""What the trace scripts share: QEMU `-singlestep -d exec,nochain` output read as program
counters, and program counters resolved to functions and source lines with `addr2line`."""
import re
import subprocess

KERNEL = 1 << 63
_PC = re.compile(rb'\[[0-9a-f]+/([0-9a-f]+)/')


def window(trace, start, stop):
    """The program counters executed from the first one equal to `start` up to (without)
    the first one equal to `stop` after it; `trace` is a file or pipe."""
    on = False
    with open(trace, 'rb') as f:
        for line in f:
            m = _PC.search(line)
            if not m:
                continue
            pc = int(m.group(1), 16)
            if not on:
                on = pc == start
            elif pc == stop:
                return
            if on:
                yield pc


def frames(elf, pcs):
    """pc -> [(function, file:line)], the innermost inlined frame first (`addr2line -i`)."""
    if not pcs:
        return {}
    out = subprocess.run(['addr2line', '-e', elf, '-f', '-i', '-C', '-a'] + [hex(p) for p in pcs],
                         capture_output=True, text=True).stdout.split('\n')
    res, cur, found, i = {}, None, [], 0
    while i < len(out):
        line = out[i]
        if re.fullmatch(r'0x[0-9a-f]{16}', line):
            if cur is not None:
                res[cur] = found
            cur, found, i = int(line, 16), [], i + 1
            continue
        if i + 1 < len(out) and line:
            found.append((line, out[i + 1].split('/')[-1]))
        i += 2
    if cur is not None:
        res[cur] = found
    return res
