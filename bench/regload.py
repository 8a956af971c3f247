#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Registrations with digest authentication, many users, a window of them
in flight (SIPp cannot take a per-user digest password from its CSV file).

Each user uFIRST..uFIRST+N-1 (password pw<index>) does what a phone does:
REGISTER -> 401 -> REGISTER with Authorization -> 200.  Lost messages are
retransmitted (500 ms, up to 4 times), then the registration counts as
failed.  Bounded: at most --secs seconds.

  regload.py --users N [--first 2] [--window 200] [--challenge-only]

--challenge-only sends the first REGISTER of each user and counts the 401s:
the load generator's own ceiling, measured in the same run as a baseline.
Prints one line: key=value pairs.
"""
import argparse, hashlib, os, re, select, socket, time

p = argparse.ArgumentParser()
p.add_argument("--server", default="10.77.0.2")
p.add_argument("--local", default="10.77.0.1")
p.add_argument("--realm", default="sipfp")
p.add_argument("--users", type=int, required=True)
p.add_argument("--first", type=int, default=2)
p.add_argument("--window", type=int, default=200)
p.add_argument("--secs", type=float, default=300)
p.add_argument("--challenge-only", action="store_true")
a = p.parse_args()

SERVER = (a.server, 5060)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 8 << 20)
s.bind((a.local, 0))
s.setblocking(False)
port = s.getsockname()[1]
tag = "%x" % os.getpid()
nonce_re = re.compile(r'WWW-Authenticate: Digest realm="[^"]*", nonce="([^"]*)", algorithm=MD5')
callid_re = re.compile(r"^(?:Call-ID|i)\s*:\s*(\S+)", re.M | re.I)


def md5(x):
    return hashlib.md5(x.encode()).hexdigest()


def register(i, cseq, authz=""):
    u = f"u{i}"
    return (f"REGISTER sip:{a.server} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {a.local}:{port};branch=z9hG4bK-r{tag}-{i}-{cseq};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:{u}@{a.server}>;tag=r{i}\r\n"
            f"To: <sip:{u}@{a.server}>\r\nCall-ID: reg-{tag}-{i}\r\nCSeq: {cseq} REGISTER\r\n"
            f"Contact: <sip:{u}@{a.local}:{port}>\r\nExpires: 3600\r\n{authz}"
            f"Content-Length: 0\r\n\r\n").encode()


def authz(i, nonce):
    u, ruri = f"u{i}", f"sip:{a.server}"
    resp = md5(f"{md5(f'{u}:{a.realm}:pw{i}')}:{nonce}:{md5(f'REGISTER:{ruri}')}")
    return (f'Authorization: Digest username="{u}", realm="{a.realm}", nonce="{nonce}", '
            f'uri="{ruri}", response="{resp}", algorithm=MD5\r\n')


pending = {}          # call-id -> [index, stage, message, sent_at, tries]
todo = list(range(a.first + a.users - 1, a.first - 1, -1))
ok = failed = retrans = 0
t0 = time.time()
while (todo or pending) and time.time() - t0 < a.secs:
    now = time.time()
    while todo and len(pending) < a.window:
        i = todo.pop()
        m = register(i, 1)
        pending[f"reg-{tag}-{i}"] = [i, 0, m, now, 0]
        s.sendto(m, SERVER)
    r, _, _ = select.select([s], [], [], 0.05)
    if r:
        for _ in range(256):
            try:
                data = s.recv(65535).decode(errors="replace")
            except BlockingIOError:
                break
            m = callid_re.search(data)
            st = pending.get(m.group(1)) if m else None
            if not st:
                continue
            code = int(data.split(" ", 2)[1])
            if st[1] == 0 and code == 401:
                if a.challenge_only:
                    ok += 1
                    del pending[m.group(1)]
                    continue
                n = nonce_re.search(data)
                st[1], st[2], st[3], st[4] = 1, register(st[0], 2, authz(st[0], n.group(1))), now, 0
                s.sendto(st[2], SERVER)
            elif st[1] == 1 and code == 200:
                ok += 1
                del pending[m.group(1)]
            elif code >= 300:
                failed += 1
                del pending[m.group(1)]
    for cid, st in list(pending.items()):
        if now - st[3] > 0.5:
            if st[4] >= 4:
                failed += 1
                del pending[cid]
            else:
                st[3], st[4] = now, st[4] + 1
                retrans += 1
                s.sendto(st[2], SERVER)
el = time.time() - t0
failed += len(pending)
print("done=%d failed=%d retransmissions=%d seconds=%.2f per_s=%.0f"
      % (ok, failed, retrans, el, ok / el if el else 0))
