#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The RFC 4475 torture messages sent to sipfp over UDP and over TCP: the
answer (status code, or none) must be the same, but where a stream cannot
carry the message as it stands (RFC 3261 18.3: its Content-Length missing,
unreadable or longer than the body), where TCP's answer is 400 or nothing.

  streamcorpus.py DIR [HOST]
"""
import os
import re
import socket
import sys

host = sys.argv[2] if len(sys.argv) > 2 else "10.77.0.2"


def first_code(data):
    m = re.match(rb"SIP/2\.0 (\d{3})", data)
    return m.group(1).decode() if m else ("none" if not data else "other")


def to_us(msg, port):
    """the top Via's sent-by (white space folded or not) made ours: over UDP the answer goes there
    (18.2.2), and it is the only change, made for both transports"""
    h = msg.find(b"\r\n\r\n")
    h = len(msg) if h < 0 else h
    head = re.sub(rb"(?im)^((?:via|v)[ \t]*:\s*SIP\s*/\s*2\.0\s*/\s*[A-Za-z]+\s+)([^;,\r\n]+)",
                  lambda m: m.group(1) + b"10.77.0.1:%d" % port, msg[:h], count=1)
    return head + msg[h:]


def over_udp(msg):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.77.0.1", 0))
    s.settimeout(0.5)
    s.sendto(to_us(msg, s.getsockname()[1]), (host, 5060))
    try:
        d = s.recv(65536)
    except socket.timeout:
        d = b""
    s.close()
    return first_code(d)


def over_tcp(msg):
    s = socket.create_connection((host, 5060), timeout=2)
    s.sendall(to_us(msg, s.getsockname()[1]))
    s.settimeout(0.8)
    d = b""
    try:
        while b"\r\n\r\n" not in d:
            x = s.recv(65536)
            if not x:
                break
            d += x
    except socket.timeout:
        pass
    s.close()
    return first_code(d)


def framable(msg):
    h = msg.find(b"\r\n\r\n")
    if h < 0:
        return False
    cls = re.findall(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*\r$", msg[:h + 2])
    return len(set(cls)) == 1 and len(msg) - h - 4 == int(cls[0])


same = diff = skipped = 0
for name in sorted(os.listdir(sys.argv[1])):
    if not name.endswith(".dat"):
        continue
    msg = open(os.path.join(sys.argv[1], name), "rb").read()
    u, t = over_udp(msg), over_tcp(msg)
    if not framable(msg):
        # on a stream Content-Length decides where a message ends, not a
        # datagram: a missing one is 400, a long one waits, two requests
        # in one datagram are two messages
        skipped += 1
        print(f"{name}: udp {u} tcp {t} (not framable on a stream as it stands)")
        continue
    if u == t:
        same += 1
    else:
        diff += 1
        print(f"{name}: udp {u} tcp {t} DIFFERENT")
print(f"{same} the same, {skipped} not framable on a stream, {diff} different")
sys.exit(1 if diff else 0)
