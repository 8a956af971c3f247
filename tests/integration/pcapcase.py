#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""pcap in -> pcap out cases for the data plane on a net_pcap port.

  pcapcase.py gen IN.pcap       write the input frames
  pcapcase.py check OUT.pcap    check what sipfp sent; prints TAP lines

Every case is one or more frames in; the check says what must come out
(a reply with a given status, an ARP or ICMP reply, or nothing at all).
Frames are built here with struct/hashlib, independently of sipfp's code.
"""
import hashlib, hmac, os, struct, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
from mkpcap import csum, frame, ip4, make_nonce  # noqa: E402

US, US_MAC = "10.77.0.2", bytes.fromhex("027063617000")  # net_pcap's port 0
PEER, PEER_MAC = "10.77.0.1", bytes.fromhex("020000000001")
SECRET = os.environ.get("SIPFP_SECRET", "pcap-test-secret").encode()


def sip(call, method="INVITE", ruri=f"sip:1000@{US}", extra="", vias=None, body="", mf=70,
        cseq=None):
    vias = vias or [f"SIP/2.0/UDP {PEER}:5062;branch=z9hG4bK-{call};rport"]
    v = "".join(f"Via: {x}\r\n" for x in vias)
    return (f"{method} {ruri} SIP/2.0\r\n{v}Max-Forwards: {mf}\r\n"
            f"From: <sip:py@{US}>;tag=f-{call}\r\nTo: <{ruri}>\r\nCall-ID: {call}\r\n"
            f"CSeq: {cseq or '1 ' + method}\r\n{extra}Content-Length: {len(body)}\r\n\r\n{body}").encode()


def udp(payload, sport=5062, dport=5060, ident=1):
    return frame(PEER_MAC, US_MAC, PEER, US, sport, dport, payload, ident)


def fragments(payload, ident, size=1480, shift=None):
    """IPv4 fragments of one UDP datagram; shift moves fragment 1 back (overlap)."""
    f = udp(payload, ident=ident)
    eth, ip, data = f[:14], f[14:34], f[34:]
    out = []
    for k, off in enumerate(range(0, len(data), size)):
        chunk = data[off:off + size]
        o = off
        if shift and k == 1:
            o -= shift
            chunk = data[o:o + size]
        more = off + size < len(data)
        h = bytearray(ip)
        struct.pack_into("!H", h, 2, 20 + len(chunk))
        struct.pack_into("!H", h, 6, (o >> 3) | (0x2000 if more else 0))
        struct.pack_into("!H", h, 10, 0)
        struct.pack_into("!H", h, 10, csum(bytes(h)))
        out.append(eth + bytes(h) + chunk)
    return out


def authz(user, pw, nonce, ruri, realm="sipfp"):
    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()
    resp = md5(f"{md5(f'{user}:{realm}:{pw}')}:{nonce}:{md5(f'INVITE:{ruri}')}")
    return (f'Proxy-Authorization: Digest username="{user}", realm="{realm}", nonce="{nonce}", '
            f'uri="{ruri}", response="{resp}", algorithm=MD5\r\n')


def arp_request():
    a = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + PEER_MAC + ip4(PEER) + b"\0" * 6 + ip4(US)
    return b"\xff" * 6 + PEER_MAC + b"\x08\x06" + a + b"\0" * 18


def icmp_echo():
    ic = struct.pack("!BBHHH", 8, 0, 0, 0x5150, 1) + b"sipfp-ping" * 4
    ic = ic[:2] + struct.pack("!H", csum(ic)) + ic[4:]
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(ic), 9, 0, 64, 1, 0, ip4(PEER), ip4(US))
    iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
    return US_MAC + PEER_MAC + b"\x08\x00" + iph + ic


def cases():
    """(name, frames, expectation): expectation is a SIP status for the
    Call-ID == name, 'arp', 'icmp', or None for 'nothing comes back'."""
    ruri = f"sip:1000@{US}"
    nonce = make_nonce(SECRET, "sipfp", int(time.time()))
    big_sdp = "v=0\r\n" + "".join(f"a=x-pad:{i:04d}{'y' * 60}\r\n" for i in range(40))
    many_via = [f"SIP/2.0/UDP 192.0.2.{i}:5060;branch=z9hG4bK-hop{i}-{'z' * 30}" for i in range(1, 40)]
    bad_ck = bytearray(udp(sip("badsum")))
    bad_ck[40] ^= 0xFF  # UDP checksum
    yield "arp", [arp_request()], "arp"
    yield "icmp", [icmp_echo()], "icmp"
    yield "invite", [udp(sip("invite"))], 407
    yield "register", [udp(sip("register", "REGISTER", f"sip:{US}"))], 401
    yield "options", [udp(sip("options", "OPTIONS", f"sip:{US}"))], 200
    yield "maxfwd0", [udp(sip("maxfwd0", mf=0))], 483
    yield "badcseq", [udp(sip("badcseq", cseq="one INVITE"))], 400
    yield "version", [udp(sip("version").replace(b"SIP/2.0\r\n", b"SIP/7.0\r\n", 1))], 505
    yield "unknown-user", [udp(sip("unknown-user", extra=authz("nobody", "x", nonce, ruri)))], 403
    yield "forged-nonce", [udp(sip("forged-nonce", extra=authz("nobody", "x", "00" * 16, ruri)))], 407
    yield "frag", fragments(sip("frag", body=big_sdp), ident=100), 407
    yield "frag-reverse", list(reversed(fragments(sip("frag-reverse", body=big_sdp), ident=101))), 407
    yield "big-reply", fragments(sip("big-reply", vias=many_via), ident=102), 407
    yield "badsum", [bytes(bad_ck)], None
    yield "port", [udp(sip("port"), dport=5070)], None
    yield "overlap", fragments(sip("overlap", body=big_sdp), ident=103, shift=80), None
    yield "dup-frag", (lambda f: [f[0], f[0]] + f[1:])(fragments(sip("dup-frag", body=big_sdp), ident=104)), 407
    yield "garbage", [udp(b"\x00\x01hello, not SIP\r\n\r\n")], None


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 0, i, len(fr), len(fr)) + fr)


def read_pcap(path):
    data = open(path, "rb").read()
    off, out = 24, []
    while off + 16 <= len(data):
        n = struct.unpack_from("<I", data, off + 8)[0]
        out.append(data[off + 16: off + 16 + n])
        off += 16 + n
    return out


def replies(frames):
    """ARP, ICMP and reassembled UDP payloads sent by sipfp"""
    arp, icmp, sipm, pend = [], [], [], {}
    for f in frames:
        et = struct.unpack_from("!H", f, 12)[0]
        if et == 0x0806:
            arp.append(f[14:])
            continue
        ip = f[14:]
        ihl = (ip[0] & 15) * 4
        assert csum(ip[:ihl]) == 0, "bad IPv4 header checksum from sipfp"
        tot, ident, fo, proto = struct.unpack_from("!H", ip, 2)[0], struct.unpack_from("!H", ip, 4)[0], \
            struct.unpack_from("!H", ip, 6)[0], ip[9]
        if proto == 1:
            icmp.append(ip[ihl:tot])
            continue
        key = (ip[12:20], ident)
        pend.setdefault(key, {})[(fo & 0x1FFF) * 8] = (ip[ihl:tot], bool(fo & 0x2000), ip[12:20])
        parts = pend[key]
        if any(not more for _, more, _ in parts.values()):
            data, o = b"", 0
            while o in parts:
                data += parts[o][0]
                o += len(parts[o][0])
            ulen = struct.unpack_from("!H", data, 4)[0] if len(data) >= 8 else -1
            if ulen == len(data):
                pseudo = parts[0][2] + struct.pack("!BBH", 0, 17, ulen)
                assert csum(pseudo + data) in (0, 0xFFFF) or data[6:8] == b"\0\0", "bad UDP checksum from sipfp"
                sipm.append((struct.unpack_from("!H", data, 2)[0], data[8:].decode(errors="replace"), len(parts)))
                del pend[key]
    return arp, icmp, sipm


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "gen":
        frames = [f for _, fs, _ in cases() for f in fs]
        write_pcap(path, frames)
        print(len(frames))
        return
    arp, icmp, sipm = replies(read_pcap(path))
    by_call = {}
    for dport, text, nfrag in sipm:
        for line in text.split("\r\n"):
            if line.lower().startswith("call-id:"):
                by_call.setdefault(line.split(":", 1)[1].strip(), []).append((dport, text, nfrag))
    fails = 0

    def tap(ok, name):
        nonlocal fails
        fails += not ok
        print(("ok - " if ok else "not ok - ") + name)

    for name, _, want in cases():
        got = by_call.get(name, [])
        if want == "arp":
            tap(any(a[6:8] == b"\0\2" and a[14:18] == ip4(US) and a[8:14] == US_MAC for a in arp),
                "pcap: ARP request for our address -> ARP reply with our MAC")
        elif want == "icmp":
            tap(any(i[0] == 0 and i[4:6] == b"\x51\x50" and csum(i) == 0 for i in icmp),
                "pcap: ICMP echo -> echo reply")
        elif want is None:
            tap(not got, f"pcap: {name} -> nothing sent")
        else:
            codes = [int(t.split(" ", 2)[1]) for _, t, _ in got]
            # RFC 3261 18.2.2 / RFC 3581: rport -> the source port, else the
            # Via's sent-by port (big-reply's top Via has no rport: 5060)
            port = 5060 if name == "big-reply" else 5062
            ok = codes == [want] and got[0][0] == port
            if ok and want in (407, 401):
                hdr = "Proxy-Authenticate" if want == 407 else "WWW-Authenticate"
                t = got[0][1]
                ok = t.count(hdr + ": Digest") == 2 and "algorithm=MD5" in t and "algorithm=SHA-256" in t \
                    and ";tag=" in t.split("\r\nTo:", 1)[1].split("\r\n", 1)[0] and "received=" in t
            if ok and name == "big-reply":
                ok = got[0][2] > 1 and got[0][1].count("\r\nVia: ") == 39
            if ok and want == 400:
                ok = "CSeq" in got[0][1].split("\r\n", 1)[0]
            extra = ", sent in %d IPv4 fragments" % got[0][2] if name == "big-reply" and got else ""
            tap(ok, f"pcap: {name} -> {want}{extra}" + ("" if ok else f" (got {codes})"))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
