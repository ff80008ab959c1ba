#!/usr/bin/env bash
# The examples/agents suite in its three modes (issue 10), as CI runs it:
#   1. live against the built-in Groq emulator (committed cassettes ignored, never written);
#   2. recorded from the emulator into a temporary copy of examples/ (--llm-record-mode=rewrite);
#   3. that recording replayed with no server: the base URL points at a closed port, so any
#      call that was not answered from a cassette fails.
# Every call of modes 1-2 must be live and every call of mode 3 replayed (checked in the
# --llm-report-json). The committed cassettes are checked to be byte-identical afterwards.
# Usage: scripts/agents_three_modes.sh [extra pytest args]; run from the repo's venv.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

committed_sum() {
    { find examples/agents/cassettes -type f -print0 2>/dev/null || true; } | sort -z | xargs -0r sha256sum | sha256sum
}
before=$(committed_sum)

# check_report FILE live|replayed: every call in the JSON report was live / replayed
check_report() {
    "$PY" - "$1" "$2" <<'PYEOF'
import json, sys
path, want = sys.argv[1], sys.argv[2]
calls = [c for t in json.load(open(path))["tests"] for c in t["calls"]]
bad = [c for c in calls if bool(c["replayed"]) != (want == "replayed") or c.get("prediction")]
if not calls or bad:
    sys.exit(f"{path}: {len(bad)} of {len(calls)} call(s) were not {want}")
print(f"   {len(calls)} LLM call(s), all {want}")
PYEOF
}

run() {  # run NAME REPORT ARGS...: times one pytest run
    local name=$1 report=$2
    shift 2
    echo "== agents: $name"
    local start=$SECONDS
    "$PY" -m pytest -p no:cacheprovider -q --llm-report-json="$report" "$@"
    echo "   $name: $((SECONDS - start)) s"
}

run "1/3 live against the emulator" "$tmp/live.json" examples/agents --llm-live "$@"
check_report "$tmp/live.json" live

cp -R examples "$tmp/examples"
rm -rf "$tmp/examples/agents/cassettes"
run "2/3 record from the emulator (temporary copy)" "$tmp/record.json" \
    "$tmp/examples/agents" --llm-record-mode=rewrite "$@"
check_report "$tmp/record.json" live
echo "   $(find "$tmp/examples/agents/cassettes" -name '*.yaml' | wc -l) cassette(s) written"

GROQ_API_KEY=gsk_replay_only_dummy run "3/3 replay with no server (base URL 127.0.0.1:9)" "$tmp/replay.json" \
    "$tmp/examples/agents" --llm-base-url=http://127.0.0.1:9 --llm-record-mode=none --llm-predict=off "$@"
check_report "$tmp/replay.json" replayed

if [ "$before" != "$(committed_sum)" ]; then
    echo "the committed cassettes under examples/agents/cassettes changed" >&2
    exit 1
fi
echo "== agents: all three modes passed; committed cassettes unchanged"
