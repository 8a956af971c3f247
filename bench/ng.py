#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Set up N calls in rtpengine over its ng control protocol (bencode over
UDP), as a SIP proxy would: an offer with the caller's SDP, an answer with
the callee's; writes the port rtpengine gave each caller to send to, one a
line, for bench/rtpgen.

  ng.py NG_HOST:PORT N CALLER_IP CALLER_PORT CALLEE_IP CALLEE_PORT PORTS_OUT
"""
import random, re, socket, sys


def benc(v):
    if isinstance(v, dict):
        return b"d" + b"".join(benc(k) + benc(v[k]) for k in sorted(v)) + b"e"
    if isinstance(v, list):
        return b"l" + b"".join(benc(x) for x in v) + b"e"
    if isinstance(v, int):
        return b"i%de" % v
    v = v.encode() if isinstance(v, str) else v
    return b"%d:%s" % (len(v), v)


def bdec(b, i=0):
    c = b[i:i + 1]
    if c == b"d":
        i, d = i + 1, {}
        while b[i:i + 1] != b"e":
            k, i = bdec(b, i)
            d[k], i = bdec(b, i)
        return d, i + 1
    if c == b"l":
        i, l = i + 1, []
        while b[i:i + 1] != b"e":
            x, i = bdec(b, i)
            l.append(x)
        return l, i + 1
    if c == b"i":
        e = b.index(b"e", i)
        return int(b[i + 1:e]), e + 1
    colon = b.index(b":", i)
    n = int(b[i:colon])
    return b[colon + 1:colon + 1 + n].decode(errors="replace"), colon + 1 + n


def sdp(ip, port):
    return (f"v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    n = int(sys.argv[2])
    a_ip, a_port, b_ip, b_port = sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)

    def ng(cmd):
        cookie = "%x" % random.randrange(1 << 48)
        s.sendto(cookie.encode() + b" " + benc(cmd), (host, int(port)))
        while True:
            r = s.recv(65535)
            c, _, body = r.partition(b" ")
            if c.decode() == cookie:
                d, _ = bdec(body)
                if d.get("result") != "ok":
                    sys.exit("ng: %s" % d)
                return d

    out = []
    for i in range(n):
        call = f"bench-{i}"
        ng({"command": "offer", "call-id": call, "from-tag": f"a{i}", "sdp": sdp(a_ip, a_port),
            "flags": ["no rtcp attribute"], "replace": ["origin", "session connection"]})
        d = ng({"command": "answer", "call-id": call, "from-tag": f"a{i}", "to-tag": f"b{i}",
                "sdp": sdp(b_ip, b_port)})
        out.append(re.search(r"m=audio (\d+)", d["sdp"]).group(1))
    with open(sys.argv[7], "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"ng.py: {n} calls set up in rtpengine", file=sys.stderr)


if __name__ == "__main__":
    main()
