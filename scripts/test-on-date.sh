#!/usr/bin/env bash
# Run the tests as if today were DAY: Debian's faketime moves the wall clock of pytest and of
# every process it starts to DAY 10:00 UTC (the same date in Toronto), and the clock keeps
# ticking. The offset is relative, so all those processes agree on the time.
#   scripts/test-on-date.sh 2028-02-29 -q -m "not e2e and not worker" --ignore=tests/core/test_admin.py
# pytest runs with its own --basetemp: a faked clock would take other runs' temporary folders for
# stale ones and clean them up. conftest.py checks that the run really is on DAY.
set -euo pipefail
cd "$(dirname "$0")/.."
day=${1:?usage: scripts/test-on-date.sh YYYY-MM-DD [pytest arguments]}
shift
command -v faketime >/dev/null 2>&1 || { echo "faketime is missing: bash scripts/system-deps.sh" >&2; exit 2; }
offset=$(( $(date -u -d "$day 10:00:00" +%s) - $(date -u +%s) ))
[ "$offset" -ge 0 ] && offset="+$offset"
basetemp=$(mktemp -d "${TMPDIR:-/tmp}/carm-pytest-$day.XXXXXX")
trap 'rm -rf "$basetemp"' EXIT
echo "== tests on $day (faketime $offset s)"
CARM_TEST_EXPECT_TODAY=$day FAKETIME_DONT_FAKE_MONOTONIC=1 \
  PYTHONPATH="$PWD/scripts/faketime${PYTHONPATH:+:$PYTHONPATH}" \
  faketime -f "$offset" .venv/bin/pytest -p no:cacheprovider --basetemp "$basetemp/pytest" "$@"
