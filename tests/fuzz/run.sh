#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Build the libFuzzer harness (clang, ASan + UBSan) and run it for a
# bounded time, seeded from the RFC 4475/5118 torture messages and the
# project's hostile corpus.  CI runs it for FUZZ_SECONDS (default 60);
# `tests/fuzz/run.sh 3600` runs it for an hour.  New inputs that found
# new paths stay in the work folder; a crash leaves crash-* there and
# fails the run.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-${FUZZ_SECONDS:-60}}
work=${FUZZ_WORK:-$(mktemp -d /tmp/sipfp-fuzz.XXXXXX)}
keep=${FUZZ_WORK:-}
trap '[ -n "$keep" ] || rm -rf "$work"' EXIT

cc=${CLANG:-clang}
command -v "$cc" >/dev/null || { echo "fuzz: $cc not found (apt-get install clang libclang-rt-14-dev)"; exit 1; }
mkdir -p "$work/corpus" "$work/seeds"
"$cc" -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -I"$top/include" -I"$top/core" -I"$top/control" \
	${FUZZ_SDP:+-DFUZZ_SDP} \
	"$top/tests/fuzz/fuzz_sip.c" "$top/core/sip_scan.c" "$top/core/sip_auth.c" \
	"$top/core/sip_logic.c" "$top/core/sip_stream.c" "$top/core/admission.c" "$top/control/sdp.c" \
	$(pkg-config --cflags --libs libosip2) -lcrypto -o "$work/fuzz_sip"

cp "$top"/tests/corpus/rfc4475/*.dat "$top"/tests/corpus/rfc5118/* "$work/seeds/" 2>/dev/null || true
python3 "$top/tests/hostile/gen.py" "$work/seeds" >/dev/null
echo "fuzz: $(ls "$work/seeds" | wc -l) seeds, $secs s, work folder $work"
cd "$work"
# -rss_limit_mb: a leak or runaway allocation fails the run
"$work/fuzz_sip" -max_total_time="$secs" -max_len=65535 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$work/" corpus seeds 2>&1 | tail -25
