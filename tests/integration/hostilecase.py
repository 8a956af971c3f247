#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The project's hostile corpus (tests/hostile/gen.py) through the data plane.

  hostilecase.py gen IN.pcap            frames, fragmented where needed
  hostilecase.py check OUT.pcap         replies against the expectations (TAP)
  hostilecase.py drops                  "counter count" lines expected
"""
import collections, os, sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "hostile"))
sys.path.insert(0, here)
from gen import cases  # noqa: E402
from pcapcase import fragments, read_pcap, replies, udp, write_pcap  # noqa: E402


def frames():
    out = []
    for i, (_, payload, _) in enumerate(cases()):
        if len(payload) + 28 > 1500:
            out += fragments(payload, ident=2000 + i)
        else:
            out.append(udp(payload, ident=2000 + i))
    return out


def top_branch(text):
    for line in text.split("\r\n")[1:]:
        if line.lower().startswith("via:"):
            for p in line.split(";")[1:]:
                if p.strip().lower().startswith("branch="):
                    return p.strip()[7:]
            return ""
    return ""


def main():
    cmd = sys.argv[1]
    if cmd == "gen":
        f = frames()
        write_pcap(sys.argv[2], f)
        print(len(f))
        return
    if cmd == "drops":
        c = collections.Counter(e[1] for _, _, e in cases() if e[0] == "drop")
        for k, v in sorted(c.items()):
            # fragments are counted one by one: a datagram gives several
            print(k, v, "atleast" if k.startswith("drop_frag") else "exact")
        return
    _, _, sipm = replies(read_pcap(sys.argv[2]))
    got = collections.defaultdict(list)
    for _, text, _ in sipm:
        b = top_branch(text)
        if b.startswith("z9hG4bK-"):
            got[b[8:]].append(text.split("\r\n", 1)[0])
    fails = 0
    for name, payload, (want, words) in cases():
        r = [v for k, v in got.items() if k == name or (name == "long-branch" and k.startswith(name))]
        r = r[0] if r else []
        if want == "drop":
            ok = not r
            what = f"dropped, counted as {words}"
        else:
            ok = len(r) == 1 and r[0].startswith(f"SIP/2.0 {want} ") and words in r[0]
            what = f"{want} {words}".rstrip()
        fails += not ok
        print(("ok - " if ok else "not ok - ") + f"hostile {name} ({len(payload)} bytes) -> {what}"
              + ("" if ok else f" (got {r})"))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
