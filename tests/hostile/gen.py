#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""sipfp's own corpus of hostile SIP messages.

The classes of RFC 4475 and of published SIP parser CVEs (Content-Length
overflows, huge or numerous headers, unterminated quotes, NUL bytes,
missing mandatory headers, bad escapes, IPv6 references where they do not
belong, non-UTF-8), each with the answer sipfp must give:

  (status, "words of the reason phrase")  a reply naming the problem, or
  ("drop", "counter")                      silence, counted under that name.

Every message that can be answered carries Via branch z9hG4bK-<name>, so
a reply is matched to its case by the branch it copies.  Generated, not
stored: some are 60 KB.  `gen.py DIR` writes one file per case (fuzz seeds).
"""
import os, sys

US, PEER = "10.77.0.2", "10.77.0.1"


def msg(name, method="INVITE", ruri=None, via=None, frm=None, to=None, callid=None,
        cseq=None, mf="70", extra="", body="", clen=None, drop=(), eol="\r\n"):
    ruri = ruri or f"sip:1000@{US}"
    hdr = {
        "Via": via if via is not None else f"SIP/2.0/UDP {PEER}:5062;branch=z9hG4bK-{name};rport",
        "Max-Forwards": mf,
        "From": frm if frm is not None else f"<sip:py@{US}>;tag=f-{name}",
        "To": to if to is not None else f"<{ruri}>",
        "Call-ID": callid if callid is not None else f"{name}@hostile",
        "CSeq": cseq if cseq is not None else f"1 {method}",
    }
    lines = [f"{method} {ruri} SIP/2.0"]
    lines += [f"{k}: {v}" for k, v in hdr.items() if k not in drop]
    text = eol.join(lines) + eol + extra
    text += f"Content-Length: {len(body.encode('latin-1')) if clen is None else clen}{eol}{eol}{body}"
    return text.encode("latin-1")


def cases():
    """(name, payload, expectation)"""
    E = "\r\n"
    # -- Content-Length (CVE-2009-3727-style overflows, RFC 4475 3.1.2.9/3.1.2.10)
    yield "clen-huge", msg("clen-huge", clen="4294967296"), (400, "Content-Length")
    yield "clen-negative", msg("clen-negative", clen="-1"), (400, "Malformed Content-Length")
    yield "clen-beyond", msg("clen-beyond", body="v=0\r\n", clen="500"), (400, "Content-Length Larger")
    yield "clen-hex", msg("clen-hex", clen="0x10"), (400, "Malformed Content-Length")
    yield "clen-twice", msg("clen-twice", extra="Content-Length: 3\r\n"), (400, "Multiple Content-Length")
    # -- sizes: one header line as long as a datagram allows, thousands of headers
    # one UDP datagram cannot carry a 64 KiB header line; the longest one it
    # can is refused whole: more IPv4 fragments than the reassembler holds
    yield "long-header", msg("long-header", extra="X-Pad: " + "a" * 60000 + E), ("drop", "drop_frag_too_big")
    yield "long-header-8k", msg("long-header-8k", extra="X-Pad: " + "a" * 8000 + E), (407, "")
    yield "long-name", msg("long-name", extra="X-" + "n" * 10000 + ": v" + E), (407, "")
    yield "many-headers", msg("many-headers", extra="".join(f"X-H{i}: v{E}" for i in range(800))), (407, "")
    yield "many-via", msg("many-via", extra="".join(
        f"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-x{i}{E}" for i in range(100))), (400, "Too Many Via")
    yield "folded-1000", msg("folded-1000", extra="Subject: a" + "".join(f"{E} b{i}" for i in range(1000)) + E), (407, "")
    yield "long-branch", msg("long-branch", via=f"SIP/2.0/UDP {PEER}:5062;rport;branch=z9hG4bK-long-branch" + "b" * 8000), (407, "")
    yield "long-ruri", msg("long-ruri", ruri=f"sip:{'u' * 4000}@{US}"), (407, "")
    # -- quoting and NUL bytes
    yield "open-quote", msg("open-quote", frm='"Alice <sip:a@example.com>;tag=1'), (400, "Malformed From")
    yield "nul-header", msg("nul-header", extra="Subject: a\0b" + E), (400, "NUL")
    yield "nul-body", msg("nul-body", body="\0\0\0binary\0"), (407, "")
    yield "auth-open-quote", msg("auth-open-quote", extra='Proxy-Authorization: Digest username="alice, realm="sipfp"' + E), (407, "")
    # -- missing mandatory headers (RFC 3261 8.1.1)
    yield "no-callid", msg("no-callid", drop=("Call-ID",)), (400, "Missing Call-ID")
    yield "no-from", msg("no-from", drop=("From",)), (400, "Missing From")
    yield "no-to", msg("no-to", drop=("To",)), (400, "Missing To")
    yield "no-cseq", msg("no-cseq", drop=("CSeq",)), (400, "Missing CSeq")
    yield "no-via", msg("no-via", drop=("Via",)), ("drop", "drop_sip_unparseable")
    # -- numbers out of range (RFC 3261 8.1.1.5: CSeq < 2**31)
    yield "cseq-big", msg("cseq-big", cseq="4294967296 INVITE"), (400, "CSeq")
    yield "maxfwd-huge", msg("maxfwd-huge", mf="99999999999"), (400, "Max-Forwards")
    yield "via-port", msg("via-port", via=f"SIP/2.0/UDP {PEER}:99999;branch=z9hG4bK-via-port"), (400, "Via")
    # -- escapes and schemes
    yield "bad-escape", msg("bad-escape", ruri=f"sip:%ZZ@{US}"), (400, "Request-URI")
    yield "xmpp-scheme", msg("xmpp-scheme", ruri="xmpp:alice@example.com"), (416, "Unsupported URI Scheme")
    yield "tel-scheme", msg("tel-scheme", ruri="tel:+15551234"), (407, "")  # routable after auth
    # -- IPv6 references in odd places (RFC 5118)
    yield "v6-open-ruri", msg("v6-open-ruri", ruri="sip:alice@[2001:db8::1"), (400, "Request-URI")
    yield "v6-bare-via", msg("v6-bare-via", via="SIP/2.0/UDP 2001:db8::1:5060;branch=z9hG4bK-v6-bare-via"), (400, "Malformed Via")
    yield "v6-from", msg("v6-from", frm="<sip:alice@[2001:db8::1]>;tag=v6"), (407, "")
    # -- bytes that are not UTF-8, or not tokens
    yield "latin1-name", msg("latin1-name", frm='"\xff\xfe\xe9" <sip:py@10.77.0.2>;tag=l1'), (407, "")
    yield "bad-method", msg("bad-method", method="INV\xffITE", cseq="1 INV\xffITE"), ("drop", "drop_sip_unparseable")
    yield "no-colon", msg("no-colon", extra="Subject hello" + E), (400, "Malformed Header")
    yield "dup-callid", msg("dup-callid", extra="i: other@hostile" + E), (400, "Multiple Call-ID")
    # -- things that cannot be answered
    yield "empty", b"", ("drop", "sip_keepalive_crlf")  # NAT keepalives of some phones
    yield "crlf", b"\r\n\r\n", ("drop", "sip_keepalive_crlf")
    yield "line-only", b"INVITE sip:1000@10.77.0.2 SIP/2.0", ("drop", "drop_sip_unparseable")
    yield "status-999", b"SIP/2.0 9999 Nonsense\r\nVia: SIP/2.0/UDP 10.77.0.1:5062;branch=z9hG4bK-status-999\r\n\r\n", ("drop", "drop_sip_bad_response")
    yield "ack-bad", msg("ack-bad", method="ACK", frm='"open <sip:x@y>'), ("drop", "drop_sip_unparseable")
    yield "binary", bytes(range(256)) * 4, ("drop", "drop_sip_unparseable")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    n = 0
    for name, payload, _ in cases():
        with open(os.path.join(out, f"hostile-{name}.sip"), "wb") as f:
            f.write(payload)
        n += 1
    print(n)


if __name__ == "__main__":
    main()
