#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The differential test on the RFC 4475/5118 corpus and the project's
# hostile corpus: tests/diff/diff_osip.c says what is compared.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$1
tmp=$(mktemp -d /tmp/sipfp-diff.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
python3 "$top/tests/hostile/gen.py" "$tmp" >/dev/null
"$bin" "$top/tests/diff/known.txt" "$top"/tests/corpus/rfc4475/* \
	"$top"/tests/corpus/rfc5118/* "$tmp"/*
