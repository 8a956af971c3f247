#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A SIP user agent over TCP or TLS for sipfp's stream tests (test_stream.sh).

  streamua.py callee USER PW [--calls N] [--reconnect]  register, answer calls
  streamua.py caller USER PW CALLEE                     one call, hung up by us
  streamua.py register USER PW [--expect CODE]          one REGISTER ladder
  streamua.py tlsver VERSION                            handshake with one TLS version only
  streamua.py verify NAME CAFILE|-                      handshake, the server's certificate checked
  streamua.py framing                                   split, batched, missing/bad Content-Length
  streamua.py ping                                      CRLF CRLF -> CRLF (RFC 5626 4.4.1)
  streamua.py slow SECONDS                              a header section that never ends
  streamua.py hold N                                    N idle connections, then one more
  streamua.py brute USER N                              N wrong passwords, one connection each
  streamua.py same407                                   the 407 over TLS is the 407 over UDP,
                                                        but for the Via and the nonce's value
  streamua.py cap N                                     N connections held, one more refused
  streamua.py idle SECONDS                              a silent connection closed within SECONDS
  streamua.py toobig                                    a message over tcp_max_msg: 513 and closed
  streamua.py clientcert CERT|- KEY|-                   TLS with (or without) a client certificate:
                                                        an OPTIONS answered, or refused
  streamua.py hsrate N                                  N TLS handshakes at once: some refused
  streamua.py serve PORT CERT KEY                       a TLS UAS on 10.77.0.1:PORT that sipfp
                                                        dials: INVITE -> 486; prints what happened

Common options: --tp tcp|tls, --host 10.77.0.2, --port P, --ca FILE, --secs S.
Exit status 0 when what was asked for happened.
"""
import argparse
import hashlib
import os
import re
import socket
import ssl
import sys
import time

A = None


def log(*a):
    print("streamua:", *a, file=sys.stderr, flush=True)


def connect(tp=None, verify=True, version=None, name=None, timeout=5, cert=None):
    tp = tp or A.tp
    port = A.port or (5061 if tp == "tls" else 5060)
    s = socket.create_connection((A.host, port), timeout=timeout)
    if tp == "tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if verify and A.ca:
            ctx.load_verify_locations(A.ca)
        elif verify:
            ctx.load_default_certs()
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if version:
            ctx.minimum_version = version
            ctx.maximum_version = version
            # Debian's OpenSSL refuses TLS < 1.2 at security level 1+:
            # lower it here, so it is sipfp that says no
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        if cert:
            ctx.load_cert_chain(cert[0], cert[1])
        s = ctx.wrap_socket(s, server_hostname=name or A.host)
    return s


class Conn:
    def __init__(self, s):
        self.s, self.buf = s, b""

    def send(self, msg):
        self.s.sendall(msg.encode() if isinstance(msg, str) else msg)

    def read(self, timeout=5.0):
        """one SIP message (start line, headers dict, raw) or None at EOF/timeout;
        a CRLF pong between messages is taken as a message of its own"""
        end = time.time() + timeout
        while True:
            if self.buf.startswith(b"\r\n") and not self.buf.startswith(b"\r\n\r\n"):
                self.buf = self.buf[2:]
                return ("PONG", {}, "")
            h = self.buf.find(b"\r\n\r\n")
            if h >= 0:
                head = self.buf[:h].decode(errors="replace")
                m = re.search(r"(?im)^(content-length|l)\s*:\s*(\d+)", head)
                n = int(m.group(2)) if m else 0
                if len(self.buf) >= h + 4 + n:
                    raw = self.buf[:h + 4 + n]
                    self.buf = self.buf[h + 4 + n:]
                    return parse(raw.decode(errors="replace"))
            left = end - time.time()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                d = self.s.recv(65536)
            except (socket.timeout, ssl.SSLError, OSError):
                return None
            if not d:
                return None
            self.buf += d


def parse(raw):
    head = raw.split("\r\n\r\n", 1)[0].split("\r\n")
    hdrs = {}
    for line in head[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs.setdefault(k.strip().lower(), []).append(v.strip())
    return head[0], hdrs, raw


def hdr(m, name):
    v = m[1].get(name.lower())
    return v[0] if v else ""


def code(m):
    return int(m[0].split()[1]) if m and m[0].startswith("SIP/2.0") else 0


def digest(chal, user, pw, method, uri):
    f = dict(re.findall(r'(\w+)="?([^",]*)"?', chal))
    ha1 = hashlib.md5(f"{user}:{f['realm']}:{pw}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    cn, nc = os.urandom(4).hex(), "00000001"
    if "qop" in f:
        r = hashlib.md5(f"{ha1}:{f['nonce']}:{nc}:{cn}:auth:{ha2}".encode()).hexdigest()
        return (f'Digest username="{user}", realm="{f["realm"]}", nonce="{f["nonce"]}", uri="{uri}", '
                f'response="{r}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cn}"')
    r = hashlib.md5(f"{ha1}:{f['nonce']}:{ha2}".encode()).hexdigest()
    return f'Digest username="{user}", realm="{f["realm"]}", nonce="{f["nonce"]}", uri="{uri}", response="{r}"'


class UA:
    def __init__(self, conn, user):
        self.c, self.user = conn, user
        self.laddr = conn.s.getsockname()
        self.tag = os.urandom(4).hex()
        self.cseq = 0
        self.tpu = A.tp.upper()

    def via(self):
        return (f"Via: SIP/2.0/{self.tpu} {self.laddr[0]}:{self.laddr[1]};"
                f"branch=z9hG4bK{os.urandom(6).hex()};rport\r\n")

    def contact(self):
        return f"<sip:{self.user}@{self.laddr[0]}:{self.laddr[1]};transport={A.tp}>"

    def request(self, method, uri, callid, to, extra="", body="", cseq=None):
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        msg = (f"{method} {uri} SIP/2.0\r\n" + self.via() + "Max-Forwards: 70\r\n"
               f"From: <sip:{self.user}@{A.host}>;tag={self.tag}\r\nTo: {to}\r\n"
               f"Call-ID: {callid}\r\nCSeq: {cseq} {method}\r\nContact: {self.contact()}\r\n"
               f"User-Agent: streamua\r\n{extra}Content-Length: {len(body)}\r\n\r\n{body}")
        self.c.send(msg)

    def final(self, timeout=5):
        while True:
            m = self.c.read(timeout)
            if not m or code(m) >= 200:
                return m

    def register(self, pw, expires=300):
        cid = f"reg-{os.urandom(6).hex()}@{self.laddr[0]}"
        uri = f"sip:{A.host}"
        to = f"<sip:{self.user}@{A.host}>"
        self.request("REGISTER", uri, cid, to, f"Expires: {expires}\r\n")
        m = self.final()
        if code(m) == 401:
            auth = digest(hdr(m, "www-authenticate"), self.user, pw, "REGISTER", uri)
            self.request("REGISTER", uri, cid, to, f"Expires: {expires}\r\nAuthorization: {auth}\r\n")
            m = self.final()
        return code(m)


SDP = ("v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
       "m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


def reply(ua, req, status, totag=None, body=""):
    vias = "".join(f"Via: {v}\r\n" for v in req[1].get("via", []))
    rrs = "".join(f"Record-Route: {v}\r\n" for v in req[1].get("record-route", []))
    to = hdr(req, "to") + (f";tag={totag}" if totag and "tag=" not in hdr(req, "to") else "")
    ct = "Content-Type: application/sdp\r\n" if body else ""
    ua.c.send(f"SIP/2.0 {status}\r\n{vias}From: {hdr(req, 'from')}\r\nTo: {to}\r\n"
              f"Call-ID: {hdr(req, 'call-id')}\r\nCSeq: {hdr(req, 'cseq')}\r\n{rrs}"
              f"Contact: {ua.contact()}\r\n{ct}Content-Length: {len(body)}\r\n\r\n{body}")


def callee():
    """register, then answer calls on the same connection (RFC 5626 flow)"""
    done, end = 0, time.time() + A.secs
    while time.time() < end and done < A.calls:
        try:
            ua = UA(Conn(connect()), A.user)
            r = ua.register(A.pw)
        except OSError as e:
            log("connect/register:", e)
            if not A.reconnect:
                return 1
            time.sleep(0.5)
            continue
        if r != 200:
            log("REGISTER got", r)
            if not A.reconnect:
                return 1
            time.sleep(0.5)
            continue
        print("registered", flush=True)
        pinged = 0
        while time.time() < end and done < A.calls:
            m = ua.c.read(1.0)
            if m is None:
                # quiet for a second: a keep-alive ping (RFC 5626 4.4.1);
                # no pong within two, or an error: the flow is gone
                if pinged and time.time() - pinged > 2:
                    break
                try:
                    if not pinged:
                        ua.c.send(b"\r\n\r\n")
                        pinged = time.time()
                except OSError:
                    break
                continue
            pinged = 0
            meth = m[0].split()[0]
            if meth == "INVITE":
                tt = os.urandom(4).hex()
                reply(ua, m, "180 Ringing", tt)
                reply(ua, m, "200 OK", tt, SDP.format(ip=ua.laddr[0], port=40000))
            elif meth == "BYE":
                reply(ua, m, "200 OK")
                done += 1
                print("call done", flush=True)
            elif meth in ("OPTIONS", "UPDATE", "INFO"):
                reply(ua, m, "200 OK")
        if not A.reconnect:
            break
        log("connection gone: connecting again")
    return 0 if done >= A.calls else 1


def caller():
    ua = UA(Conn(connect()), A.user)
    cid = f"call-{os.urandom(6).hex()}@{ua.laddr[0]}"
    uri = f"sip:{A.callee}@{A.host}"
    to = f"<{uri}>"
    body = SDP.format(ip=ua.laddr[0], port=41000)
    ct = "Content-Type: application/sdp\r\n"
    ua.request("INVITE", uri, cid, to, ct, body)
    m = ua.final()
    if code(m) != 407:
        log("INVITE got", m and m[0])
        return 1
    ua.request("ACK", uri, cid, hdr(m, "to"), cseq=ua.cseq)
    auth = digest(hdr(m, "proxy-authenticate"), A.user, A.pw, "INVITE", uri)
    ua.request("INVITE", uri, cid, to, ct + f"Proxy-Authorization: {auth}\r\n", body)
    m = ua.final(10)
    if code(m) != 200:
        log("authenticated INVITE got", m and m[0])
        return 1
    if A.tp == "tls" and "transport=tls" not in " ".join(m[1].get("record-route", [])):
        log("200 without a TLS Record-Route:", m[1].get("record-route"))
        return 1
    route = "".join(f"Route: {v}\r\n" for v in reversed(m[1].get("record-route", [])))
    target = re.sub(r"^.*<|>.*$", "", hdr(m, "contact"))
    n = ua.cseq
    ua.request("ACK", target, cid, hdr(m, "to"), route, cseq=n)
    time.sleep(0.3)
    ua.request("BYE", target, cid, hdr(m, "to"), route)
    m = ua.final()
    if code(m) != 200:
        log("BYE got", m and m[0])
        return 1
    return 0


def register():
    ua = UA(Conn(connect()), A.user)
    r = ua.register(A.pw)
    print(r)
    return 0 if r == A.expect else 1


def tlsver():
    v = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1, "1.2": ssl.TLSVersion.TLSv1_2,
         "1.3": ssl.TLSVersion.TLSv1_3}[A.args[0]]
    try:
        s = connect("tls", verify=False, version=v)
        print("accepted", s.version())
        return 0 if A.expect == 200 else 1
    except (ssl.SSLError, OSError) as e:
        print("refused:", e)
        return 0 if A.expect != 200 else 1


def verify():
    name, ca = A.args[0], A.args[1]
    A.ca = None if ca == "-" else ca
    try:
        s = connect("tls", verify=True, name=name)
        if A.ca is None:
            # no CA given: the system store must not trust sipfp's test CA
            pass
        print("verified", s.version())
        return 0 if A.expect == 200 else 1
    except ssl.SSLCertVerificationError as e:
        print("verification failed:", e.verify_message)
        return 0 if A.expect != 200 else 1


def options(n=1):
    out = ""
    for i in range(n):
        out += (f"OPTIONS sip:{A.host} SIP/2.0\r\nVia: SIP/2.0/TCP 10.77.0.1:5999;branch=z9hG4bKo{i}\r\n"
                f"From: <sip:probe@10.77.0.1>;tag=o{i}\r\nTo: <sip:{A.host}>\r\nCall-ID: opt{i}\r\n"
                f"CSeq: {i + 1} OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
    return out


def closed(s, timeout=3):
    s.settimeout(timeout)
    try:
        while True:
            d = s.recv(4096)
            if not d:
                return True
    except (socket.timeout, ssl.SSLError):
        return False
    except OSError:
        return True


def framing():
    ok = True
    # one message in single bytes
    c = Conn(connect("tcp"))
    for b in options(1).encode():
        c.s.sendall(bytes([b]))
        time.sleep(0.001)
    m = c.read()
    ok &= code(m) == 200
    log("split into single bytes:", m and m[0])
    # five messages in one segment
    c.send(options(5))
    got = [code(c.read()) for _ in range(5)]
    ok &= got == [200] * 5
    log("five in one segment:", got)
    # no Content-Length: 400, then closed
    bad = options(1).replace("Content-Length: 0\r\n", "")
    c = Conn(connect("tcp"))
    c.send(bad)
    m = c.read()
    ok &= code(m) == 400 and closed(c.s)
    log("no Content-Length:", m and m[0])
    c = Conn(connect("tcp"))
    c.send(options(1).replace("Content-Length: 0", "Content-Length: abc"))
    m = c.read()
    ok &= code(m) == 400 and closed(c.s)
    log("bad Content-Length:", m and m[0])
    return 0 if ok else 1


def ping():
    s = connect()
    s.sendall(b"\r\n\r\n")
    s.settimeout(3)
    d = s.recv(16)
    print(repr(d))
    return 0 if d == b"\r\n" else 1


def slow():
    s = connect("tcp")
    t0 = time.time()
    # a header section that grows a byte a little slower than it must
    try:
        for b in b"OPTIONS sip:x SIP/2.0\r\nX-Slow: " + b"a" * 1000:
            s.sendall(bytes([b]))
            time.sleep(0.2)
            if time.time() - t0 > A.secs:
                break
    except OSError:
        pass
    gone = closed(s, 1)
    dt = time.time() - t0
    print(f"closed={gone} after {dt:.1f} s")
    return 0 if gone and dt < float(A.args[0]) else 1


def hold():
    n = int(A.args[0])
    socks = []
    for i in range(n):
        socks.append(connect("tcp"))
    # every one of them works (the server has them all)
    time.sleep(1)
    s = socks[-1]
    s.sendall(options(1).encode())
    held = code(Conn(s).read()) == 200
    extra = connect("tcp")
    refused = closed(extra, 3)
    print(f"held={n} last_answers={held} one_more_refused={refused}")
    for s in socks:
        s.close()
    return 0 if held and refused else 1


def brute():
    user, n = A.args[0], int(A.args[1])
    for i in range(n):
        try:
            ua = UA(Conn(connect(timeout=2)), user)
            r = ua.register("wrong-" + str(i))
            log(f"attempt {i}: {r}")
        except OSError as e:
            print(f"attempt {i}: connection failed ({e}): banned")
            return 0
    return 1


def serve():
    """the far end of a connection sipfp opens: a TLS server with the
    certificate given; INVITE gets 486 (the caller's proof it arrived)"""
    port, cert, key = int(A.args[0]), A.args[1], A.args[2]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("10.77.0.1", port))
    ls.listen(8)
    ls.settimeout(A.secs)
    end = time.time() + A.secs
    while time.time() < end:
        try:
            s, _ = ls.accept()
        except socket.timeout:
            break
        try:
            s = ctx.wrap_socket(s, server_side=True)
        except (ssl.SSLError, OSError) as e:
            print("handshake failed:", e, flush=True)
            continue
        print("handshake ok", s.version(), flush=True)
        ua = UA(Conn(s), "far")
        m = ua.c.read(5)
        if m and m[0].startswith("INVITE"):
            reply(ua, m, "486 Busy Here", os.urandom(4).hex())
            print("INVITE answered 486", flush=True)
            ua.c.read(2)  # the ACK
            return 0
    return 1


def same407():
    """sip_logic decides for both: one INVITE over UDP and over TLS, the
    answers compared byte for byte once the Via (the client's own, which
    names its transport and port) and the nonce (a worker's, or the control
    process's, each minted with the same key) are masked"""
    def invite(proto, port):
        return (f"INVITE sip:2002@{A.host} SIP/2.0\r\nVia: SIP/2.0/{proto} 10.77.0.1:{port};branch=z9hG4bKsame407\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:2001@{A.host}>;tag=same\r\nTo: <sip:2002@{A.host}>\r\n"
                f"Call-ID: same407@10.77.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:2001@10.77.0.1:{port}>\r\n"
                f"Content-Length: 0\r\n\r\n").encode()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("10.77.0.1", 0))
    u.settimeout(3)
    u.sendto(invite("UDP", u.getsockname()[1]), (A.host, 5060))
    over_udp = u.recv(65536).decode()
    t = connect("tls", verify=False)
    t.sendall(invite("TLS", t.getsockname()[1]))
    over_tls = Conn(t).read()[2]
    mask = lambda m: re.sub(r'nonce="[^"]*"', 'nonce="N"', re.sub(r"(?m)^Via: .*\r$", "Via: V\r", m))
    a, b = mask(over_udp), mask(over_tls)
    print(b)
    if a != b:
        print("--- over UDP:\n" + a)
        return 1
    return 0 if a.startswith("SIP/2.0 407") else 1


def cap():
    n = int(A.args[0])
    socks = [connect("tcp") for _ in range(n)]
    time.sleep(0.5)
    s = socks[-1]
    s.sendall(options(1).encode())
    ok = code(Conn(s).read()) == 200
    refused = closed(connect("tcp"), 3)
    print(f"held={n} answered={ok} one_more_refused={refused}")
    return 0 if ok and refused else 1


def idle():
    s = connect("tcp")
    t0 = time.time()
    gone = closed(s, float(A.args[0]))
    print(f"closed={gone} after {time.time() - t0:.1f} s")
    return 0 if gone else 1


def toobig():
    c = Conn(connect("tcp"))
    c.send(options(1).replace("Content-Length: 0\r\n\r\n", "Content-Length: 5000\r\n\r\n" + "x" * 5000))
    m = c.read()
    gone = closed(c.s)
    print(m and m[0], "closed" if gone else "open")
    return 0 if code(m) == 513 and gone else 1


def clientcert():
    cert = None if A.args[0] == "-" else (A.args[0], A.args[1])
    try:
        c = Conn(connect("tls", cert=cert))
        c.send(options(1))
        m = c.read(3)
    except (ssl.SSLError, OSError) as e:
        print("refused:", e)
        return 0 if A.expect != 200 else 1
    print("answered:", m and m[0])
    ok = code(m) == 200
    return 0 if ok == (A.expect == 200) else 1


def hsrate():
    n, ok, refused = int(A.args[0]), 0, 0
    for _ in range(n):
        try:
            c = Conn(connect("tls", cert=(A.args[1], A.args[2]) if len(A.args) > 2 else None))
            c.send(options(1))
            if code(c.read(3)) == 200:
                ok += 1
            else:
                refused += 1
        except (ssl.SSLError, OSError):
            refused += 1
    print(f"handshakes={n} answered={ok} refused={refused}")
    return 0 if ok >= 1 and refused >= 1 else 1


def main():
    global A
    p = argparse.ArgumentParser()
    p.add_argument("cmd")
    p.add_argument("args", nargs="*")
    p.add_argument("--tp", default="tcp")
    p.add_argument("--host", default="10.77.0.2")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ca")
    p.add_argument("--secs", type=float, default=30)
    p.add_argument("--calls", type=int, default=1)
    p.add_argument("--expect", type=int, default=200)
    p.add_argument("--reconnect", action="store_true")
    A = p.parse_args()
    if A.cmd in ("callee", "caller", "register"):
        A.user, A.pw = A.args[0], A.args[1]
        if A.cmd == "caller":
            A.callee = A.args[2]
    f = {"callee": callee, "caller": caller, "register": register, "tlsver": tlsver, "verify": verify,
         "framing": framing, "ping": ping, "slow": slow, "hold": hold, "brute": brute,
         "serve": serve, "same407": same407, "cap": cap, "idle": idle, "toobig": toobig,
         "clientcert": clientcert, "hsrate": hsrate}[A.cmd]
    sys.exit(f())


if __name__ == "__main__":
    main()
