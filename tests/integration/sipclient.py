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

    def request(self, method, cseq, ruri, extra="", branch=None, to=None):
        branch = branch or "z9hG4bK-py%d" % random.randrange(1 << 40)
        to = to or f"To: <{ruri}>"
        msg = (f"{method} {ruri} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {LOCAL}:{self.port};branch={branch};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:py@{SERVER[0]}>;tag=pyf\r\n"
               f"{to}\r\nCall-ID: {self.call}\r\nCSeq: {cseq} {method}\r\n"
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


def nothing_more(far, what):
    """nothing reaches the far end within 0.5 s"""
    far.settimeout(0.5)
    try:
        x = far.recvfrom(65535)[0].decode()
        raise AssertionError(what + ": " + x.split("\r\n", 1)[0])
    except socket.timeout:
        pass


def in_dialog_bye(answer):
    """A BYE through sipfp's Record-Route to a far end of ours, sent once:
    sipfp's client transaction (RFC 3261 17.1.2) must retransmit it (timer
    E), answer our own retransmission from the transaction once the far end
    answered, and answer 408 itself when the far end never does (timer F).
    T1 is the test's 100 ms."""
    far = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    far.bind((LOCAL, 0))
    fport = far.getsockname()[1]
    c = Client()
    c.call = "bye-%d@%s" % (random.randrange(1 << 30), LOCAL)
    branch = "z9hG4bK-bye%d" % random.randrange(1 << 40)
    bye = (f"BYE sip:far@{LOCAL}:{fport} SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP {LOCAL}:{c.port};branch={branch};rport\r\n"
           f"Route: <sip:{SERVER[0]}:{SERVER[1]};lr>\r\nMax-Forwards: 70\r\n"
           f"From: <sip:py@{SERVER[0]}>;tag=near\r\nTo: <sip:far@{SERVER[0]}>;tag=far\r\n"
           f"Call-ID: {c.call}\r\nCSeq: 7 BYE\r\nContent-Length: 0\r\n\r\n").encode()
    c.s.sendto(bye, SERVER)
    copies, t0 = [], time.time()
    far.settimeout(0.2)
    while time.time() - t0 < (1.0 if answer else 8.0):
        try:
            copies.append(far.recvfrom(65535)[0].decode())
        except socket.timeout:
            pass
    # 0, 100, 300, 700 ms: four copies in the first second
    assert len(copies) >= 3, "far end got %d copies of the BYE" % len(copies)
    assert len({re.search(r"branch=([^;\r]+)", x).group(1) for x in copies}) == 1, "branch changed"
    if not answer:
        c.s.settimeout(4)
        r = c.replies(1)
        assert r and status(r[0]) == 408, r   # timer F: 64 * T1 = 6.4 s
        return
    head, _ = copies[-1].split("\r\n\r\n", 1)
    keep = [l for l in head.split("\r\n")[1:] if re.match(r"(?i)(via|from|to|call-id|cseq)\s*:", l)]
    far.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode(),
               SERVER)
    c.s.settimeout(1)
    r = c.replies(1)
    assert r and status(r[0]) == 200, r
    # our retransmission: answered from the transaction, not forwarded again
    c.s.sendto(bye, SERVER)
    r = c.replies(1)
    assert r and status(r[0]) == 200, r
    nothing_more(far, "the retransmission was forwarded")


def reinvite():
    """A re-INVITE through sipfp's Record-Route (RFC 3261 14): sipfp keeps
    an INVITE client transaction for it (17.1.1): 100 to the sender, the
    far end's 488 ACKed by sipfp itself and relayed once, the sender's ACK
    ending at sipfp, a retransmission answered from the transaction."""
    far = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    far.bind((LOCAL, 0))
    far.settimeout(1)
    fport = far.getsockname()[1]
    c = Client()
    br = "z9hG4bK-reinv%d" % random.randrange(1 << 40)
    route = f"Route: <sip:{SERVER[0]}:{SERVER[1]};lr>\r\n"
    to = f"To: <sip:far@{SERVER[0]}>;tag=far"
    c.request("INVITE", 3, f"sip:far@{LOCAL}:{fport}", route, branch=br, to=to)
    got = finals(c, 0.3)
    assert [s for s, _, _ in got] == [100], ("100 from sipfp", got)
    inv = far.recvfrom(65535)[0].decode()
    assert inv.startswith("INVITE "), inv
    head = inv.split("\r\n\r\n", 1)[0]
    keep = [l for l in head.split("\r\n")[1:] if re.match(r"(?i)(via|from|to|call-id|cseq)\s*:", l)]
    far.sendto(("SIP/2.0 488 Not Acceptable Here\r\n" + "\r\n".join(keep) +
                "\r\nContent-Length: 0\r\n\r\n").encode(), SERVER)
    ack = far.recvfrom(65535)[0].decode()
    while ack.startswith("INVITE "):    # timer A's copies sent before our 488
        ack = far.recvfrom(65535)[0].decode()
    assert ack.startswith("ACK "), ("sipfp's own ACK for the 488", ack)
    got = finals(c, 0.5)
    assert [s for s, _, _ in got] == [488], got
    c.request("ACK", 3, f"sip:far@{LOCAL}:{fport}", route, branch=br, to=to)
    c.request("INVITE", 3, f"sip:far@{LOCAL}:{fport}", route, branch=br, to=to)
    got = finals(c, 0.5)
    assert 488 in [s for s, _, _ in got], ("retransmission answered from the transaction", got)
    nothing_more(far, "forwarded again")


def finals(c, secs):
    """every reply within secs, as (status, CSeq method, To header)"""
    out, end = [], time.time() + secs
    while time.time() < end:
        c.s.settimeout(max(0.01, end - time.time()))
        r = c.replies(1)
        if r:
            out.append((status(r[0]), re.search(r"(?im)^CSeq:\s*\d+\s+(\w+)", r[0]).group(1),
                        re.search(r"(?im)^(?:To|t)\s*:.*$", r[0]).group(0)))
    return out


def forked(ruri, user, pw, want, cancel):
    """An authenticated INVITE to a callee with several contacts (RFC 3261
    16.6: one branch each).  The caller must get exactly one final: the best
    of the branches' (16.7 step 6), or 487 after its CANCEL (16.10); its
    ACK ends at sipfp, and a retransmitted INVITE gets the final again
    (17.2.1)."""
    c = Client()
    nonce = challenge(c, ruri, "MD5")
    br = "z9hG4bK-fork%d" % random.randrange(1 << 40)
    auth = authz(user, pw, nonce, ruri, "MD5")
    c.request("INVITE", 2, ruri, auth, branch=br)
    wait = float(os.environ.get("SIPFP_WAIT", "3"))
    if cancel:
        got = finals(c, 0.5)
        assert any(s == 180 for s, _, _ in got), got
        c.request("CANCEL", 2, ruri, branch=br)
        want = 487
    got = finals(c, wait)
    if cancel:
        assert (200, "CANCEL") in [(s, m) for s, m, _ in got], got
    fin = [(s, to) for s, m, to in got if m == "INVITE" and s >= 200]
    assert len(fin) == 1 and fin[0][0] == want, (got, want)
    c.request("ACK", 2, ruri, branch=br, to=fin[0][1])
    c.request("INVITE", 2, ruri, auth, branch=br)
    again = [s for s, m, _ in finals(c, 1.0) if m == "INVITE"]
    assert again and again[-1] == want, ("retransmitted INVITE", again)


def register(c, user, pw, cseq, headers, aor=None):
    """REGISTER -> 401 -> REGISTER with Authorization (CSeq cseq, then
    cseq + 1) on c's Call-ID; headers: the Contact/Expires lines.
    Returns the final response to the second one."""
    ruri = f"sip:{SERVER[0]}"
    aor = aor or user

    def send(n, auth):
        c.s.sendto((f"REGISTER {ruri} SIP/2.0\r\n"
                    f"Via: SIP/2.0/UDP {LOCAL}:{c.port};branch=z9hG4bK-reg{random.randrange(1 << 40)};rport\r\n"
                    f"Max-Forwards: 70\r\nFrom: <sip:{aor}@{SERVER[0]}>;tag=reg{os.getpid()}\r\n"
                    f"To: <sip:{aor}@{SERVER[0]}>\r\nCall-ID: {c.call}\r\nCSeq: {n} REGISTER\r\n"
                    f"{headers}{auth}Content-Length: 0\r\n\r\n").encode(), SERVER)
    send(cseq, "")
    r = c.replies(1)
    assert r and status(r[0]) == 401, r
    nonce = re.search(r'WWW-Authenticate: Digest realm="[^"]*", nonce="([^"]*)", algorithm=MD5', r[0]).group(1)
    send(cseq + 1, authz(user, pw, nonce, ruri, "MD5", "REGISTER").replace("Proxy-Authorization", "Authorization"))
    for r in c.replies(2):
        if status(r) >= 200:
            return r
    raise AssertionError("no final answer to the authenticated REGISTER")


def contacts(r):
    """{port: expires} of the Contacts a registrar's 200 lists"""
    return {int(m.group(1)): int(m.group(2))
            for m in re.finditer(r"^Contact: <sip:[^@>]*@[\d.]+:(\d+)>;expires=(\d+)", r, re.M)}


def registrar(user, pw, other):
    """RFC 3261 10.3 on one Call-ID: a binding, its refresh, a second
    contact, an out-of-order CSeq, a misused "*", another user's AOR, and
    removal of every binding with "*"."""
    c = Client()
    c.call = "reg-%d@%s" % (random.randrange(1 << 30), LOCAL)
    ct = lambda port, extra="": f"Contact: <sip:{user}@{LOCAL}:{port}>{extra}\r\n"
    r = register(c, user, pw, 1, ct(5091, ";expires=120"))
    assert status(r) == 200 and 110 <= contacts(r).get(5091, 0) <= 120, ("bind", r)
    r = register(c, user, pw, 3, ct(5091, ";expires=300"))                   # refresh (10.2.1)
    got = contacts(r)
    assert status(r) == 200 and 290 <= got.get(5091, 0) <= 300 and len(got) == 1, ("refresh", r)
    r = register(c, user, pw, 5, ct(5092) + "Expires: 200\r\n")              # a second contact
    got = contacts(r)
    assert status(r) == 200 and set(got) == {5091, 5092} and 190 <= got[5092] <= 200, ("second", r)
    r = register(c, user, pw, 1, ct(5091, ";expires=60"))                    # older CSeq (step 7)
    assert status(r) == 400, ("out of order", r)
    r = register(c, user, pw, 7, "Contact: *\r\nExpires: 60\r\n")            # "*" needs Expires: 0
    assert status(r) == 400, ("star without Expires: 0", r)
    r = register(c, user, pw, 9, ct(5093), aor=other)                       # not its own AOR (step 6)
    assert status(r) == 403, ("other AOR", r)
    r = register(c, user, pw, 11, ct(5091, ";expires=300"))
    assert status(r) == 200 and set(contacts(r)) == {5091, 5092}, ("unchanged by the refused ones", r)
    r = register(c, user, pw, 13, "Contact: *\r\nExpires: 0\r\n")            # remove them all
    assert status(r) == 200 and not contacts(r) and "Contact:" not in r, ("star", r)


def stray_responses():
    """Bad input from a callee's side: responses sipfp never asked for.
    Each must be dropped (and counted), none relayed anywhere."""
    c = Client()
    me = f"{LOCAL}:{c.port}"
    common = (f"From: <sip:a@{SERVER[0]}>;tag=1\r\nTo: <sip:b@{SERVER[0]}>;tag=2\r\n"
              f"Call-ID: stray-{random.randrange(1 << 30)}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
    ours = f"Via: SIP/2.0/UDP {SERVER[0]}:{SERVER[1]};branch=z9hG4bKsfp%d\r\n"
    for msg in [
        "SIP/2.0 200 OK\r\n" + common,                                        # no Via at all
        "SIP/2.0 200 OK\r\n" + ours % 1 + f"Via: SIP/2.0/UDP {me};branch=z9hG4bK-x\r\n" + common,  # no such transaction
        "SIP/2.0 180 Ringing\r\n" + ours % 2 + common,                        # ours, but no Via after it
        f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-y\r\n" + common,  # not through us
        f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {SERVER[0]}:{SERVER[1]};branch=nomagic\r\n" + common,
        "SIP/2.0 486 Busy Here\r\n" + ours % 3 + "Via: SIP/2.0/UDP 10.77.0.1:1;branch=z9hG4bK-z\r\n"
        + common.replace("INVITE", "BYE"),                                    # a final for no BYE of ours
    ]:
        c.s.sendto(msg.encode(), SERVER)
    c.s.settimeout(0.5)
    r = c.replies(1)
    assert not r, "something came back: %r" % r


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
    elif check == "bye-retrans":  # far end silent for 1 s, then answers
        in_dialog_bye(True)
    elif check == "bye-timeout":  # far end never answers
        in_dialog_bye(False)
    elif check == "fork":         # fork USER PW STATUS: the one final after every branch ended
        forked(ruri, args[0], args[1], int(args[2]), False)
    elif check == "fork-cancel":  # fork-cancel USER PW: CANCEL while the branches ring
        forked(ruri, args[0], args[1], 487, True)
    elif check == "reinvite":     # a re-INVITE turned down by the far end
        reinvite()
    elif check == "registrar":    # registrar USER PW OTHER: refresh, ordering, "*", another AOR
        registrar(args[0], args[1], args[2])
    elif check == "stray":        # responses from nowhere: dropped
        stray_responses()
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
