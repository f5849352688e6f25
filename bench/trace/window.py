#!/usr/bin/env python3
"""Reads QEMU `-d exec,nochain -singlestep` output from a file or pipe; finds the first window
between a `syscall_stub` entry and the entry PERIOD calls later (default 2) that repeated
REPEAT times in a row and is between MIN and MAX instructions long (default 200..3000); prints
its program counters, one a line.
Usage: window.py TRACE STUB_HEX [REPEAT [PERIOD [MIN MAX]]]"""
import sys, re
stub = int(sys.argv[2], 16)
REPEAT = int(sys.argv[3]) if len(sys.argv) > 3 else 150
PERIOD = int(sys.argv[4]) if len(sys.argv) > 4 else 2
MIN, MAX = (int(sys.argv[5]), int(sys.argv[6])) if len(sys.argv) > 6 else (200, 3000)
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
            if entries % PERIOD == 0:
                w = tuple(cur)
                if w == prev_window and MIN < len(w) < MAX:
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
