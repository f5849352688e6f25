#!/usr/bin/env python3
"""Reads QEMU `-d exec,nochain -singlestep` output from a file or pipe; finds the first window
between a `syscall_stub` entry and the entry two calls later that repeated REPEAT times in a
row; prints its program counters, one a line. Usage: window.py TRACE STUB_HEX [REPEAT]"""
import sys, re
stub = int(sys.argv[2], 16)
REPEAT = int(sys.argv[3]) if len(sys.argv) > 3 else 150
pat = re.compile(r'\[[0-9a-f]+/([0-9a-f]+)/')
prev_window = None; same = 0
cur = []; entries = 0
with open(sys.argv[1]) as f:
    for line in f:
        m = pat.search(line)
        if not m: continue
        pc = int(m.group(1), 16)
        if pc == stub:
            entries += 1
            if entries % 2 == 0:
                w = tuple(cur)
                if w == prev_window and 200 < len(w) < 3000:
                    same += 1
                    if same >= REPEAT:
                        for p in w: print(hex(p))
                        sys.exit(0)
                else:
                    same = 0
                prev_window = w
                cur = []
        cur.append(pc)
print("not found", file=sys.stderr); sys.exit(1)
