#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The frequency of the tone in a mono 16-bit WAV file (what a baresip
phone recorded with its sndfile module), from its upward zero crossings
after the first 200 ms.  Prints "freq=HZ seconds=S".

  tone.py FILE.wav
"""
import struct, sys, wave

w = wave.open(sys.argv[1])
n, ch, sr = w.getnframes(), w.getnchannels(), w.getframerate()
x = struct.unpack("<%dh" % (n * ch), w.readframes(n))[::ch]
start = int(sr * 0.2)
up = [i for i in range(max(start, 1), len(x)) if x[i - 1] < 0 <= x[i]]
f = (len(up) - 1) / ((up[-1] - up[0]) / sr) if len(up) > 2 else 0.0
print("freq=%.1f seconds=%.1f" % (f, len(x) / sr))
