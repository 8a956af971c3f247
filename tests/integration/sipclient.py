#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A small independent SIP/UDP client for sipfp's integration tests.

Digests and nonces are computed here with hashlib/hmac, not with sipfp's
code, so the tests check sipfp against a second implementation.
Usage: sipclient.py CHECK [args]   (exit 0 when the check holds)
"""
import hashlib, hmac, os, random, re, socket, struct, sys, time

SERVER = (os.environ.get("SIPFP_ADDR", "10.77.0.2"), 5060)
LOCAL = os.environ.get("SIPFP_HOST", "10.77.0.1")
REALM = os.environ.get("SIPFP_REALM", "sipfp")
SECRET = os.environ.get("SIPFP_SECRET", "").encode()


def h(alg, s):
    return (hashlib.sha256 if alg == "SHA-256" else hashlib.md5)(s.encode()).hexdigest()


class Client:
    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((LOCAL, 0))
        self.port = self.s.getsockname()[1]
        self.s.settimeout(3)
        self.call = "py-%d-%d@%s" % (os.getpid(), random.randrange(1 << 30), LOCAL)

    def request(self, method, cseq, ruri, extra=""):
        branch = "z9hG4bK-py%d" % random.randrange(1 << 40)
        msg = (f"{method} {ruri} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {LOCAL}:{self.port};branch={branch};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:py@{SERVER[0]}>;tag=pyf\r\n"
               f"To: <{ruri}>\r\nCall-ID: {self.call}\r\nCSeq: {cseq} {method}\r\n"
               f"Contact: <sip:py@{LOCAL}:{self.port}>\r\n{extra}Content-Length: 0\r\n\r\n")
        self.s.sendto(msg.encode(), SERVER)

    def replies(self, n=1):
        out = []
        for _ in range(n):
            try:
                out.append(self.s.recvfrom(65535)[0].decode(errors="replace"))
            except socket.timeout:
                break
        return out


def status(r):
    return int(r.split(" ", 2)[1])


def challenge(c, ruri, alg):
    c.request("INVITE", 1, ruri)
    r = c.replies(1)
    assert r and status(r[0]) == 407, r
    for m in re.finditer(r'Proxy-Authenticate: Digest realm="([^"]*)", nonce="([^"]*)", algorithm=([\w-]+)', r[0]):
        if m.group(3) == alg:
            return m.group(2)
    raise AssertionError("no %s challenge in %r" % (alg, r[0]))


def authz(user, pw, nonce, ruri, alg, method="INVITE"):
    ha1 = h(alg, f"{user}:{REALM}:{pw}")
    ha2 = h(alg, f"{method}:{ruri}")
    cn, nc = "%08x" % random.randrange(1 << 32), "00000001"
    resp = h(alg, f"{ha1}:{nonce}:{nc}:{cn}:auth:{ha2}")
    return (f'Proxy-Authorization: Digest username="{user}", realm="{REALM}", nonce="{nonce}", '
            f'uri="{ruri}", response="{resp}", algorithm={alg}, qop=auth, nc={nc}, cnonce="{cn}"\r\n')


def make_nonce(ts):
    """sipfp's nonce format, from its documentation: hex(fp|ts|salt|mac8)."""
    fp = hashlib.sha256(b"sipfp-key-fingerprint" + SECRET).digest()[0]
    head = bytes([fp]) + struct.pack(">I", ts) + b"\x00\x00\x01"
    mac = hmac.new(SECRET, head + REALM.encode(), hashlib.sha256).digest()[:8]
    return (head + mac).hex()


def main():
    check, args = sys.argv[1], sys.argv[2:]
    ruri = f"sip:{os.environ.get('SIPFP_CALLEE', '1000')}@{SERVER[0]}"
    c = Client()
    if check == "auth":          # auth USER PW ALG EXPECT...: statuses after an authenticated INVITE
        user, pw, alg, want = args[0], args[1], args[2], [int(x) for x in args[3:]]
        nonce = challenge(c, ruri, alg)
        c.request("INVITE", 2, ruri, authz(user, pw, nonce, ruri, alg))
        c.s.settimeout(float(os.environ.get("SIPFP_WAIT", "3")))
        got = [status(r) for r in c.replies(len(want))]
        assert got == want, (got, want)
        if 480 in got or 403 in got or 503 in got:
            c.request("ACK", 2, ruri)
    elif check == "stale":       # a nonce of our secret, older than its lifetime
        nonce = make_nonce(int(time.time()) - 1000)
        c.request("INVITE", 2, ruri, authz("alice", args[0], nonce, ruri, "MD5"))
        r = c.replies(1)
        assert r and status(r[0]) == 407 and "stale=true" in r[0], r
        fresh = make_nonce(int(time.time()))   # and a fresh one minted here is accepted
        c.request("INVITE", 3, ruri, authz("alice", args[0], fresh, ruri, "MD5"))
        got = [status(x) for x in c.replies(2)]
        assert got == [100, 480], got
    elif check == "challenge":   # an INVITE without credentials gets 407
        challenge(c, ruri, "MD5")
    elif check == "options":
        c.request("OPTIONS", 1, f"sip:{SERVER[0]}")
        r = c.replies(1)
        assert r and status(r[0]) == 200, r
    else:
        sys.exit("unknown check " + check)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print("sipclient: FAILED:", e, file=sys.stderr)
        sys.exit(1)
