#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Load for bench/stream.sh: one generator for UDP, TCP and TLS, so the
transports are compared with the same client.

  streamload.py reg TRANSPORT PROCS REGS_EACH USER PW   REGISTER ladders (401 + 200)
                                                         on one connection per process
  streamload.py hs PROCS SECONDS                        TLS handshakes (new connection each)
  streamload.py hold N SECONDS                          N idle connections (TCP or TLS), held
  streamload.py calls TRANSPORT PAIRS CALLS USER PW     PAIRS callers (USER) and callees (c0.., password
                                                         cpw), each caller CALLS calls to its callee:
                                                         INVITE -> 407 -> ACK -> INVITE -> 200 -> ACK
                                                         -> BYE -> 200, everything over TRANSPORT

Prints one line of figures; exit 1 if any ladder did not end in 200.
"""
import hashlib
import multiprocessing as mp
import os
import re
import socket
import ssl
import sys
import time

# the server (sipfp by default; bench/stream.sh points it at Kamailio too)
HOST = os.environ.get("SL_HOST", "10.77.0.2")
PORT = int(os.environ.get("SL_PORT", "5060"))
TLS_PORT = int(os.environ.get("SL_TLS_PORT", "5061"))
LOCAL = os.environ.get("SL_LOCAL", "10.77.0.1")


def ctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def open_conn(tp):
    if tp == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((LOCAL, 0))
        s.connect((HOST, PORT))
        return s
    s = socket.create_connection((HOST, TLS_PORT if tp == "tls" else PORT), timeout=5,
                                 source_address=(LOCAL, 0))
    # as SIP phones do: an ACK and the next request go out at once, not
    # after the server's delayed ACK (Nagle)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return ctx().wrap_socket(s) if tp == "tls" else s


class Reader:
    def __init__(self, s, tp):
        self.s, self.tp, self.buf = s, tp, b""

    def msg(self):
        if self.tp == "udp":
            return self.s.recv(65536)
        while True:
            h = self.buf.find(b"\r\n\r\n")
            if h >= 0:
                m = re.search(rb"(?im)^content-length\s*:\s*(\d+)", self.buf[:h])
                n = h + 4 + (int(m.group(1)) if m else 0)
                if len(self.buf) >= n:
                    out, self.buf = self.buf[:n], self.buf[n:]
                    return out
            d = self.s.recv(65536)
            if not d:
                raise OSError("closed")
            self.buf += d


def digest_hdr(chal_msg, hname, user, pw, method, uri, nc):
    line = [l for l in chal_msg.split("\r\n") if l.lower().startswith(hname.lower() + ":")][0]
    f = dict(re.findall(r'(\w+)="?([^",\r]*)"?', line.split(":", 1)[1]))
    ha1 = hashlib.md5(f"{user}:{f['realm']}:{pw}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    resp = hashlib.md5(f"{ha1}:{f['nonce']}:00000001:{nc}:auth:{ha2}".encode()).hexdigest()
    return (f'Digest username="{user}", realm="{f["realm"]}", nonce="{f["nonce"]}", uri="{uri}", '
            f'response="{resp}", algorithm=MD5, qop=auth, nc=00000001, cnonce="{nc}"')


def register(s, r, tp, user, pw, tag, expires=300):
    """one REGISTER ladder on s (REGISTER -> 401 -> REGISTER with digest);
    True when it ended in 200"""
    la = s.getsockname()
    cid = f"reg-{tag}-{os.getpid()}"
    base = (f"REGISTER sip:{HOST} SIP/2.0\r\nVia: SIP/2.0/{tp.upper()} {la[0]}:{la[1]};branch=z9hG4bK{tag}x{{b}};rport\r\n"
            f"From: <sip:{user}@{HOST}>;tag=t{tag}\r\nTo: <sip:{user}@{HOST}>\r\nCall-ID: {cid}\r\n"
            f"CSeq: {{b}} REGISTER\r\nContact: <sip:{user}@{la[0]}:{la[1]};transport={tp}>\r\n"
            f"Expires: {expires}\r\nMax-Forwards: 70\r\n{{a}}Content-Length: 0\r\n\r\n")
    s.sendall(base.format(b=1, a="").encode())
    m = r.msg().decode(errors="replace")
    auth = digest_hdr(m, "WWW-Authenticate", user, pw, "REGISTER", f"sip:{HOST}", f"c{tag}")
    s.sendall(base.format(b=2, a=f"Authorization: {auth}\r\n").encode())
    return r.msg().startswith(b"SIP/2.0 200")


def reg_worker(args):
    tp, n, user, pw, idx = args
    s = open_conn(tp)
    s.settimeout(5)
    r = Reader(s, tp)
    ok = 0
    for i in range(n):
        try:
            ok += register(s, r, tp, user, pw, f"{idx}x{i}")
        except (OSError, IndexError, KeyError):
            pass
    s.close()
    return ok


def hdrs(msg, name):
    return [l.split(":", 1)[1].strip() for l in msg.split("\r\n")[1:] if l.lower().startswith(name.lower() + ":")]


def status(msg):
    return int(msg.split(" ", 2)[1]) if msg.startswith("SIP/2.0 ") else 0


def callee_worker(args):
    """register as cK, then answer every INVITE (200), ACK, BYE (200) until told to stop"""
    tp, k, stop = args
    s = open_conn(tp)
    s.settimeout(5)
    r = Reader(s, tp)
    la = s.getsockname()
    user = f"c{k}"
    if not register(s, r, tp, user, "cpw", f"callee{k}", 600):
        return 0
    s.settimeout(0.5)
    answered = 0
    while not stop.is_set():
        try:
            m = r.msg().decode(errors="replace")
        except (socket.timeout, TimeoutError):
            continue
        except OSError:
            break
        if status(m):
            continue
        meth = m.split(" ", 1)[0]
        if meth == "ACK":
            continue
        head = "".join(f"Via: {v}\r\n" for v in hdrs(m, "Via"))
        head += "".join(f"Record-Route: {v}\r\n" for v in hdrs(m, "Record-Route"))
        to = hdrs(m, "To")[0] + (";tag=t" + str(k) if meth == "INVITE" else "")
        out = (f"SIP/2.0 200 OK\r\n{head}From: {hdrs(m, 'From')[0]}\r\nTo: {to}\r\n"
               f"Call-ID: {hdrs(m, 'Call-ID')[0]}\r\nCSeq: {hdrs(m, 'CSeq')[0]}\r\n"
               f"Contact: <sip:{user}@{la[0]}:{la[1]};transport={tp}>\r\nContent-Length: 0\r\n\r\n")
        s.sendall(out.encode())
        answered += meth == "BYE"
    s.close()
    return answered


def caller_worker(args):
    tp, k, n, user, pw = args
    s = open_conn(tp)
    s.settimeout(5)
    r = Reader(s, tp)
    la = s.getsockname()
    proto = tp.upper()
    ok = 0
    for i in range(n):
        cid = f"call{k}x{i}x{os.getpid()}"
        uri = f"sip:c{k}@{HOST}"

        def req(method, ruri, cseq, b, to, extra=""):
            return (f"{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/{proto} {la[0]}:{la[1]};branch=z9hG4bK{cid}x{b};rport\r\n"
                    f"Max-Forwards: 70\r\nFrom: <sip:{user}@{HOST}>;tag=f{k}x{i}\r\nTo: {to}\r\n"
                    f"Call-ID: {cid}\r\nCSeq: {cseq} {method}\r\n"
                    f"Contact: <sip:{user}@{la[0]}:{la[1]};transport={tp}>\r\n{extra}Content-Length: 0\r\n\r\n").encode()
        try:
            s.sendall(req("INVITE", uri, 1, 1, f"<{uri}>"))
            m = r.msg().decode(errors="replace")
            if status(m) != 407:
                continue
            s.sendall(req("ACK", uri, 1, 1, hdrs(m, "To")[0]))
            auth = digest_hdr(m, "Proxy-Authenticate", user, pw, "INVITE", uri, f"n{i}")
            s.sendall(req("INVITE", uri, 2, 2, f"<{uri}>", f"Proxy-Authorization: {auth}\r\n"))
            while True:
                m = r.msg().decode(errors="replace")
                if status(m) >= 200:
                    break
            if status(m) != 200:
                continue
            route = "".join(f"Route: {v}\r\n" for v in reversed(hdrs(m, "Record-Route")))
            target = re.sub(r"^.*<|>.*$", "", hdrs(m, "Contact")[0])
            to = hdrs(m, "To")[0]
            s.sendall(req("ACK", target, 2, 3, to, route))
            s.sendall(req("BYE", target, 3, 4, to, route))
            while True:
                m = r.msg().decode(errors="replace")
                if status(m) >= 200 and "BYE" in hdrs(m, "CSeq")[0]:
                    break
            ok += status(m) == 200
        except (OSError, IndexError, KeyError):
            pass
    s.close()
    return ok


def hs_worker(args):
    secs, = args
    end, n = time.time() + secs, 0
    c = ctx()
    while time.time() < end:
        try:
            s = c.wrap_socket(socket.create_connection((HOST, TLS_PORT), timeout=5, source_address=(LOCAL, 0)))
            n += 1
            s.close()
        except OSError:
            pass
    return n


def main():
    cmd = sys.argv[1]
    if cmd == "reg":
        tp, procs, each, user, pw = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
        t0 = time.time()
        with mp.Pool(procs) as p:
            oks = p.map(reg_worker, [(tp, each, user, pw, k) for k in range(procs)])
        dt = time.time() - t0
        total = procs * each
        print(f"{tp} registrations {sum(oks)}/{total} in {dt:.2f} s: {sum(oks) / dt:.0f}/s")
        sys.exit(0 if sum(oks) == total else 1)
    if cmd == "hs":
        procs, secs = int(sys.argv[2]), float(sys.argv[3])
        with mp.Pool(procs) as p:
            n = sum(p.map(hs_worker, [(secs,)] * procs))
        print(f"tls handshakes {n} in {secs:.0f} s: {n / secs:.0f}/s")
        return
    if cmd == "calls":
        tp, pairs, each, user, pw = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
        mgr = mp.Manager()
        stop = mgr.Event()
        with mp.Pool(pairs * 2) as p:
            callees = p.map_async(callee_worker, [(tp, k, stop) for k in range(pairs)])
            time.sleep(1.5)
            t0 = time.time()
            oks = p.map(caller_worker, [(tp, k, each, user, pw) for k in range(pairs)])
            dt = time.time() - t0
            stop.set()
            callees.get(10)
        total = pairs * each
        print(f"{tp} calls {sum(oks)}/{total} in {dt:.2f} s: {sum(oks) / dt:.0f}/s")
        sys.exit(0 if sum(oks) == total else 1)
    if cmd == "hold":
        tp, n, secs = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
        socks = [open_conn(tp) for _ in range(n)]
        print(f"holding {n} {tp} connections", flush=True)
        time.sleep(secs)
        for s in socks:
            s.close()


if __name__ == "__main__":
    main()
