#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write a pcap of distinct SIP INVITEs for sipfp's benchmarks and tests.

Each packet is a complete Ethernet/IPv4/UDP frame addressed to sipfp, from
its own source address and port, with its own Call-ID, tags and branch, and
an SDP body, about 730 bytes like the reference capture's INVITE.

  mkpcap.py OUT.pcap [--count N] [--auth] [--users N] [--dst-mac MAC] ...

With --rtp N the pcap holds instead one G.711 RTP packet (20 ms, 160 bytes
of payload, 214-byte frame) for each of N streams: stream i from
10.78.x.y:4000 to sipfp's media port --media-base + 4 i, for bench/media.sh.

With --auth every INVITE carries a Proxy-Authorization for user bench<i % N>
(password "pw<i % N>") with a nonce minted for --secret at the current time,
so the pcap stays valid for the nonce lifetime (300 s by default).  The nonce
and digest are computed here (hashlib), independently of sipfp's C code.
"""
import argparse, hashlib, hmac, struct, sys, time


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def frame(smac, dmac, sip, dip, sport, dport, payload, ident):
    udp_len = 8 + len(payload)
    pseudo = ip4(sip) + ip4(dip) + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + payload
    c = csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, ident & 0xFFFF, 0, 64, 17, 0,
                      ip4(sip), ip4(dip))
    iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
    return dmac + smac + b"\x08\x00" + iph + udp


def make_nonce(secret, realm, ts):
    """sipfp's nonce: hex(fp | ts | salt | mac8), as README.md documents."""
    fp = hashlib.sha256(b"sipfp-key-fingerprint" + secret).digest()[0]
    head = bytes([fp]) + struct.pack(">I", ts) + b"\x00\x00\x01"
    return (head + hmac.new(secret, head + realm.encode(), hashlib.sha256).digest()[:8]).hex()


def h(alg, s):
    return (hashlib.sha256 if alg == "SHA-256" else hashlib.md5)(s.encode()).hexdigest()


def invite(i, a, src, sport, nonce):
    ruri = f"sip:{2000 + i % 1000}@{a.dst}"
    call = f"{i:08x}-bench-{src}"
    auth = ""
    if nonce:
        user, pw = f"bench{i % a.users}", f"pw{i % a.users}"
        ha1 = h(a.alg, f"{user}:{a.realm}:{pw}")
        ha2 = h(a.alg, f"INVITE:{ruri}")
        cn, nc = f"{i:08x}", "00000001"
        resp = h(a.alg, f"{ha1}:{nonce}:{nc}:{cn}:auth:{ha2}")
        auth = (f'Proxy-Authorization: Digest username="{user}", realm="{a.realm}", '
                f'nonce="{nonce}", uri="{ruri}", response="{resp}", algorithm={a.alg}, '
                f'qop=auth, nc={nc}, cnonce="{cn}"\r\n')
    sdp = (f"v=0\r\no=- {i} {i} IN IP4 {src}\r\ns=-\r\nc=IN IP4 {src}\r\nt=0 0\r\n"
           f"m=audio {10000 + 2 * (i % 20000)} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
           f"a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\na=sendrecv\r\n")
    msg = (f"INVITE {ruri} SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP {src}:{sport};branch=z9hG4bK{i:010x}b;rport\r\n"
           f"Max-Forwards: 70\r\n"
           f"From: \"bench {i}\" <sip:{1000 + i % 1000}@{a.dst}>;tag={i:08x}f\r\n"
           f"To: <{ruri}>\r\nCall-ID: {call}\r\nCSeq: {2 if nonce else 1} INVITE\r\n"
           f"Contact: <sip:{1000 + i % 1000}@{src}:{sport}>\r\n"
           f"User-Agent: sipfp-bench\r\n"
           f"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO, REFER, NOTIFY\r\n"
           f"Supported: replaces, timer\r\nSession-Expires: 1800;refresher=uac\r\nMin-SE: 90\r\n"
           f"{auth}Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}")
    return msg.encode()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out")
    p.add_argument("--count", type=int, default=4096)
    p.add_argument("--dst", default="10.77.0.2")
    p.add_argument("--dst-mac", default="02:70:63:61:70:00", help="net_pcap's MAC for port 0")
    p.add_argument("--auth", action="store_true")
    p.add_argument("--users", type=int, default=64)
    p.add_argument("--secret", default="bench-secret-0001")
    p.add_argument("--realm", default="sipfp")
    p.add_argument("--alg", default="MD5", choices=["MD5", "SHA-256"])
    p.add_argument("--users-file", help="also write htdigest lines user:realm:ha1 here")
    p.add_argument("--sources", type=int, default=0, help="cycle over this many source addresses (0: one per INVITE)")
    p.add_argument("--sources-file", help="also write the source addresses here, one per line")
    p.add_argument("--rtp", type=int, default=0, help="RTP streams instead of INVITEs")
    p.add_argument("--media-base", type=int, default=20000)
    p.add_argument("--media-addrs", default="", help="RTP: comma-separated media addresses, streams spread in blocks")
    p.add_argument("--per-addr", type=int, default=0, help="RTP: streams on each media address (0: all on --dst)")
    a = p.parse_args()
    dmac = bytes.fromhex(a.dst_mac.replace(":", ""))
    if a.rtp:
        return rtp_pcap(a, dmac)
    nonce = make_nonce(a.secret.encode(), a.realm, int(time.time())) if a.auth else None
    now = int(time.time())
    sizes = []
    with open(a.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        srcs = set()
        for i in range(a.count):
            j = i % a.sources if a.sources else i
            src = f"10.{1 + (j >> 16) % 200}.{(j >> 8) & 255}.{1 + (j & 255) % 254}"
            srcs.add(src)
            sport = 5060 + i % 1000
            smac = bytes([0x02, 0x00, (i >> 16) & 255, (i >> 8) & 255, i & 255, 0x01])
            fr = frame(smac, dmac, src, a.dst, sport, 5060, invite(i, a, src, sport, nonce), i)
            sizes.append(len(fr))
            f.write(struct.pack("<IIII", now, i, len(fr), len(fr)) + fr)
    if a.sources_file:
        with open(a.sources_file, "w") as f:
            f.write("".join(x + "\n" for x in sorted(srcs)))
    if a.users_file:
        with open(a.users_file, "w") as f:
            for u in range(a.users):
                f.write(f"bench{u}:{a.realm}:{h('MD5', f'bench{u}:{a.realm}:pw{u}')}\n")
    print(f"{a.out}: {a.count} INVITEs, {min(sizes)}-{max(sizes)} bytes per frame"
          + (f", {a.alg} credentials for {a.users} users" if a.auth else ""), file=sys.stderr)


def rtp_pcap(a, dmac):
    now = int(time.time())
    with open(a.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        addrs = [x for x in a.media_addrs.split(",") if x] or [a.dst]
        per = a.per_addr or a.rtp
        for i in range(a.rtp):
            src = f"10.{78 + (i >> 16)}.{(i >> 8) & 255}.{1 + (i & 255) % 254}"
            dst, k = addrs[(i // per) % len(addrs)], i % per
            smac = bytes([0x02, 0x01, (i >> 16) & 255, (i >> 8) & 255, i & 255, 0x01])
            # RFC 3550 5.1: V=2, PT 0 (PCMU), sequence, timestamp, SSRC
            rtp = struct.pack("!BBHII", 0x80, 0, i & 0xFFFF, 160 * i & 0xFFFFFFFF, 0x5F000000 + i)
            fr = frame(smac, dmac, src, dst, 4000, a.media_base + 4 * k, rtp + b"\xd5" * 160, i)
            f.write(struct.pack("<IIII", now, i, len(fr), len(fr)) + fr)
    print(f"{a.out}: {a.rtp} RTP streams, {len(fr)}-byte frames, ports {a.media_base}.."
          f"{a.media_base + 4 * (min(per, a.rtp) - 1)} on {len(addrs)} address(es)", file=sys.stderr)


if __name__ == "__main__":
    main()
