#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Hostile and legitimate SIP/UDP traffic for sipfp's edge test.

Each command binds to a given local source address (the test adds them to
the TAP interface), so one machine plays many sources.  Every loop is
bounded in count and in time.  Usage: edgeclient.py COMMAND SRC args...
"""
import hashlib, os, random, re, socket, sys, time

SERVER = (os.environ.get("SIPFP_ADDR", "10.77.0.2"), 5060)
REALM = os.environ.get("SIPFP_REALM", "sipfp")


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


class Src:
    def __init__(self, addr, port=0, timeout=1.0):
        self.addr = addr
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind((addr, port))
        self.port = self.s.getsockname()[1]
        self.s.settimeout(timeout)
        self.call = "edge-%d-%d" % (os.getpid(), random.randrange(1 << 30))

    def msg(self, method, ruri, cseq, extra="", ua=None, to=None, call=None):
        branch = "z9hG4bK-e%d" % random.randrange(1 << 40)
        ua_line = f"User-Agent: {ua}\r\n" if ua else ""
        to = to if to and to.startswith("<") else f"<{to or ruri}>"
        return (f"{method} {ruri} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {self.addr}:{self.port};branch={branch};rport\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:edge@{SERVER[0]}>;tag=ef{self.port}\r\n"
                f"To: {to}\r\nCall-ID: {call or self.call}\r\nCSeq: {cseq} {method}\r\n"
                f"Contact: <sip:edge@{self.addr}:{self.port}>\r\n{ua_line}{extra}"
                f"Content-Length: 0\r\n\r\n").encode()

    def send(self, *a, **k):
        self.s.sendto(self.msg(*a, **k), SERVER)

    def reply(self):
        try:
            return self.s.recvfrom(65535)[0].decode(errors="replace")
        except (socket.timeout, BlockingIOError):
            return None


def status(r):
    return int(r.split(" ", 2)[1]) if r else 0


def authz(method, user, pw, nonce, ruri):
    """RFC 2617 digest credentials without qop: Authorization for a
    REGISTER (401), Proxy-Authorization for anything else (407)."""
    resp = md5(f"{md5(f'{user}:{REALM}:{pw}')}:{nonce}:{md5(f'{method}:{ruri}')}")
    hdr = "Authorization" if method == "REGISTER" else "Proxy-Authorization"
    return (f'{hdr}: Digest username="{user}", realm="{REALM}", nonce="{nonce}", '
            f'uri="{ruri}", response="{resp}", algorithm=MD5\r\n')


def get_nonce(c, ruri):
    c.send("REGISTER", ruri, 1)
    r = c.reply()
    if status(r) != 401:
        return None
    m = re.search(r'WWW-Authenticate: Digest realm="[^"]*", nonce="([^"]*)", algorithm=MD5', r)
    return m.group(1) if m else None


def brute(src, user, n, port=0):
    """svcrack's pattern: one nonce, then password after password.
    Prints how many guesses got an answer (403) before sipfp fell silent."""
    c = Src(src, port)
    ruri = f"sip:{SERVER[0]}"
    nonce = get_nonce(c, ruri)
    if not nonce:
        print("answered=0 challenged=0")
        return
    answered, t0 = 0, time.time()
    for i in range(n):
        c.send("REGISTER", ruri, 2 + i, authz("REGISTER", user, "guess%d" % i, nonce, ruri))
        r = c.reply()
        if status(r) != 403:
            break
        answered += 1
    print("answered=%d challenged=1 seconds=%.3f" % (answered, time.time() - t0))


def register(src, user, pw, port=0):
    """REGISTER -> 401 -> REGISTER+auth -> 200 (from the control process)."""
    c = Src(src, port, timeout=3)
    ruri = f"sip:{SERVER[0]}"
    nonce = get_nonce(c, ruri)
    assert nonce, "no 401 challenge"
    c.send("REGISTER", ruri, 2, authz("REGISTER", user, pw, nonce, ruri) + "Expires: 60\r\n",
           to=f"sip:{user}@{SERVER[0]}")
    r = c.reply()
    assert status(r) == 200, r


def options(src, count, ua=None, port=0):
    """count OPTIONS at once; prints how many were answered 200."""
    c = Src(src, port, timeout=0.5)
    for i in range(count):
        c.send("OPTIONS", f"sip:{SERVER[0]}", i + 1, ua=ua)
    got = 0
    while c.reply() is not None:
        got += 1
    print("answered=%d" % got)


def flood(base, nsrc, rate, secs, maxpkts):
    """Unauthenticated INVITEs from nsrc addresses base+0.. at a paced rate,
    at most maxpkts and secs.  Prints what was offered and answered."""
    b = [int(x) for x in base.split(".")]
    srcs = []
    for i in range(nsrc):
        a = "%d.%d.%d.%d" % (b[0], b[1], b[2], b[3] + i)
        s = Src(a)
        s.s.setblocking(False)
        srcs.append((s, [s.msg("INVITE", f"sip:{1000 + k}@{SERVER[0]}", 1) for k in range(8)]))
    sent = answered = 0
    t0 = time.time()
    while sent < maxpkts:
        now = time.time() - t0
        if now >= secs:
            break
        due = min(maxpkts, int(now * rate) + 1)
        while sent < due:
            s, msgs = srcs[sent % nsrc]
            try:
                s.s.sendto(msgs[(sent // nsrc) % 8], SERVER)
            except BlockingIOError:
                pass
            sent += 1
        for s, _ in srcs:
            while s.reply() is not None:
                answered += 1
        time.sleep(0.001)
    el = time.time() - t0
    time.sleep(0.3)
    for s, _ in srcs:
        while s.reply() is not None:
            answered += 1
    print("offered=%d seconds=%.2f offered_per_s=%d answered=%d answered_per_s=%d"
          % (sent, el, sent / el, answered, answered / el))


def collect(c, idle, limit):
    """replies until idle seconds pass with none, at most limit seconds:
    {Call-ID: set of status codes}"""
    got, t0 = {}, time.time()
    c.s.settimeout(idle)
    while time.time() - t0 < limit:
        r = c.reply()
        if r is None:
            break
        m = re.search(r"^(?:Call-ID|i)\s*:\s*(\S+)", r, re.M | re.I)
        got.setdefault(m.group(1) if m else "?", set()).add(status(r))
    return got


def overload(src, user, pw, n_ood, n_ind, pid):
    """The ring to the control process held full (the test stopped the
    control process, pid): n_ood authenticated INVITEs, then n_ind in-dialog
    BYEs; then the control process is let go (SIGCONT) and its answers are
    counted.  Each Call-ID is counted once, retransmissions aside."""
    import signal
    c = Src(src, timeout=2)
    # every answer is read only after the burst: room for all of them
    # (as root past net.core.rmem_max)
    c.s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 8 << 20)
    ruri = f"sip:nobody@{SERVER[0]}"
    c.send("INVITE", ruri, 1)
    r = c.reply()
    m = re.search(r'Proxy-Authenticate: Digest realm="[^"]*", nonce="([^"]*)", algorithm=MD5', r or "")
    assert status(r) == 407 and m, r
    az = authz("INVITE", user, pw, m.group(1), ruri)
    ood = ["ood-%d-%d" % (os.getpid(), i) for i in range(n_ood)]
    ind = ["ind-%d-%d" % (os.getpid(), i) for i in range(n_ind)]
    for i, call in enumerate(ood):
        c.s.sendto(c.msg("INVITE", ruri, 1, az, call=call), SERVER)
        if i % 20 == 19:
            time.sleep(0.002)
    first = collect(c, 0.5, 5)
    for i, call in enumerate(ind):
        c.s.sendto(c.msg("BYE", ruri, 2, to=f"<{ruri}>;tag=gone{i}", call=call), SERVER)
        if i % 20 == 19:
            time.sleep(0.002)
    second = collect(c, 0.5, 5)
    os.kill(pid, signal.SIGCONT)
    after = collect(c, 1.5, 10)
    n = lambda d, calls, code: sum(1 for k in calls if code in d.get(k, ()))
    print("ood_sent=%d ood_trying=%d ood_503=%d ind_sent=%d ind_503=%d after_404=%d after_481=%d"
          % (n_ood, n(first, ood, 100), n(first, ood, 503), n_ind, n(second, ind, 503),
             n(after, ood, 404), n(after, ind, 481)))


def frags(src, n, first_id=0):
    """First fragments of n datagrams that never complete (RFC 791: held
    until the reassembly timer); paced so the TAP queue keeps them all.
    IP identifications first_id.. (distinct datagrams across calls)."""
    import struct
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    udp = struct.pack("!HHHH", 5062, 5060, 3000, 0) + b"a" * 1472
    for i in range(n):
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), (first_id + i) & 0xffff, 0x2000, 64, 17, 0,
                         socket.inet_aton(src), socket.inet_aton(SERVER[0]))
        s.sendto(ip + udp, (SERVER[0], 0))
        if i % 50 == 49:
            time.sleep(0.002)
    print("sent=%d" % n)


def ip_frags(raw, src, ident, payload, chunk, count=1 << 30):
    """payload (UDP header included) as IPv4 fragments of chunk bytes, the
    first count of them"""
    import struct
    off = 0
    while off < len(payload) and count > 0:
        count -= 1
        part = payload[off:off + chunk]
        more = 0x2000 if off + len(part) < len(payload) else 0
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(part), ident & 0xffff,
                         more | (off >> 3), 64, 17, 0,
                         socket.inet_aton(src), socket.inet_aton(SERVER[0]))
        raw.sendto(ip + part, (SERVER[0], 0))
        off += len(part)


def fragpressure(base, nsrc, rate, secs, legit, nlegit):
    """Fragment pressure: from nsrc addresses base+0.., rate datagrams a
    second for secs seconds that can never be reassembled, half of them
    first fragments that never complete (RFC 791: held until the timer),
    half complete datagrams in 10 fragments (more than sipfp holds).
    Meanwhile, from the addresses legit+0..2, nlegit INVITEs big enough to
    leave in 2 or 3 fragments (kernel-fragmented, as a phone's would be);
    each must get its 407.  Bounded in count and time."""
    import struct, threading
    b = [int(x) for x in base.split(".")]
    srcs = ["%d.%d.%d.%d" % (b[0], b[1], b[2], b[3] + i) for i in range(nsrc)]
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    never = struct.pack("!HHHH", 5062, 5060, 3000, 0) + b"n" * 2992
    many = struct.pack("!HHHH", 5062, 5060, 160, 0) + b"m" * 152
    sent = [0, 0]
    stop = threading.Event()

    def attack():
        t0 = time.time()
        i = 0
        while not stop.is_set() and time.time() - t0 < secs:
            due = int((time.time() - t0) * rate) + 1
            while i < due:
                src = srcs[i % nsrc]
                if i & 1:
                    ip_frags(raw, src, 0x8000 + i, many, 16)      # 10 fragments
                else:
                    ip_frags(raw, src, 0x8000 + i, never, 1480, 1)  # first only
                sent[i & 1] += 1
                i += 1
            time.sleep(0.002)
        sent.append(time.time() - t0)

    th = threading.Thread(target=attack)
    th.start()
    time.sleep(min(1.0, secs / 3))   # let the flood fill what it can
    lb = [int(x) for x in legit.split(".")]
    clients = [Src("%d.%d.%d.%d" % (lb[0], lb[1], lb[2], lb[3] + k), timeout=2.0) for k in range(3)]
    for c in clients:
        c.s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER = DONT: fragment
    got = {2: 0, 3: 0}
    tried = {2: 0, 3: 0}
    for k in range(nlegit):
        nfr = 2 + (k & 1)
        c = clients[k % 3]
        body = ("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n" % (c.addr, c.addr)
                + "a=x-pad:" + "p" * (1480 * (nfr - 1) - 700) + "\r\n")
        m = c.msg("INVITE", f"sip:bob@{SERVER[0]}", 1, call="fp-%d-%d" % (os.getpid(), k)).decode()
        m = m.replace("Content-Length: 0\r\n\r\n",
                      "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        tried[nfr] += 1
        c.s.sendto(m.encode(), SERVER)
        if status(c.reply()) == 407:
            got[nfr] += 1
        time.sleep(0.05)
    stop.set()
    th.join()
    el = sent[2] if len(sent) > 2 else secs
    print("attack_never=%d attack_many=%d attack_per_s=%d legit2_sent=%d legit2_407=%d "
          "legit3_sent=%d legit3_407=%d" % (sent[0], sent[1], (sent[0] + sent[1]) / el,
                                            tried[2], got[2], tried[3], got[3]))


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "brute":        # brute SRC USER N [PORT]
        brute(a[0], a[1], int(a[2]), int(a[3]) if len(a) > 3 else 0)
    elif cmd == "register":   # register SRC USER PW [PORT]
        register(a[0], a[1], a[2], int(a[3]) if len(a) > 3 else 0)
    elif cmd == "options":    # options SRC COUNT [UA] [PORT]
        options(a[0], int(a[1]), a[2] if len(a) > 2 and a[2] else None,
                int(a[3]) if len(a) > 3 else 0)
    elif cmd == "frags":      # frags SRC N [FIRST_ID]
        frags(a[0], int(a[1]), int(a[2]) if len(a) > 2 else 0x4000)
    elif cmd == "fragpressure":  # fragpressure BASE NSRC RATE SECS LEGIT_BASE NLEGIT
        fragpressure(a[0], int(a[1]), int(a[2]), float(a[3]), a[4], int(a[5]))
    elif cmd == "overload":   # overload SRC USER PW N_OOD N_IND CONTROL_PID
        overload(a[0], a[1], a[2], int(a[3]), int(a[4]), int(a[5]))
    elif cmd == "flood":      # flood BASE NSRC RATE SECS MAXPKTS
        flood(a[0], int(a[1]), int(a[2]), float(a[3]), int(a[4]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print("edgeclient: FAILED:", e, file=sys.stderr)
        sys.exit(1)
