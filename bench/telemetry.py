#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Query a DPDK process's telemetry socket (v2) and print or compare counters.

  telemetry.py PREFIX CMD                print the JSON answer of one command
  telemetry.py PREFIX CMD KEY            print one value of a dict answer
  telemetry.py PREFIX rate CMD KEY... --secs S
                                         sample twice, S seconds apart, and
                                         print KEY=per-second for each key

The same protocol as dpdk-telemetry.py (shipped with DPDK), in a form a
script can use without an interactive prompt.
"""
import json, os, socket, sys, time


def query(prefix, cmd):
    base = os.environ.get("RUNTIME_DIR", "/var/run/dpdk")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(os.path.join(base, prefix, "dpdk_telemetry.v2"))
    hello = json.loads(s.recv(16384).decode())
    s.send(cmd.encode())
    ans = json.loads(s.recv(hello.get("max_output_len", 16384)).decode())
    s.close()
    return ans[cmd.split(",")[0]]


def main():
    a = sys.argv[1:]
    secs = 5.0
    if "--secs" in a:
        i = a.index("--secs")
        secs = float(a[i + 1])
        del a[i:i + 2]
    if len(a) < 2:
        sys.exit(__doc__)
    prefix = a[0]
    if a[1] == "rate":
        t0, v0 = time.monotonic(), query(prefix, a[2])
        time.sleep(secs)
        t1, v1 = time.monotonic(), query(prefix, a[2])
        for k in a[3:]:
            print(f"{k}={(v1[k] - v0[k]) / (t1 - t0):.0f}")
        return
    v = query(prefix, a[1])
    print(v[a[2]] if len(a) > 2 else json.dumps(v, indent=1))


if __name__ == "__main__":
    main()
