#!/usr/bin/env bash
# Runs the Kubernetes Jobs' own command lines (deploy/k8s/indexed-job.yaml, then
# merge-job.yaml) as local processes: one worker per index 0..N-1 with
# JOB_COMPLETION_INDEX set, all told the same --start-at, then the merge. What the
# cluster would run, read from the manifests themselves, with no cluster.
#
# Usage: deploy/run-local.sh --connect HOST:PORT [--out DIR] [--start-in SECONDS] [NAME=VALUE ...]
#   --connect   the server (the Job's TARGET)
#   --out       where the worker-INDEX.json files and merged.json go (default: a new temp dir)
#   --start-in  seconds from now to the shared start (default 5)
#   NAME=VALUE  overrides the manifest's other environment values, e.g. DURATION=2s
# Environment: RPYCBENCH (the binary; default: rpycbench on PATH), PYTHON (a python3
# with PyYAML; default python3), WORKERS (default: the Job's completions).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
RPYCBENCH="${RPYCBENCH:-$(command -v rpycbench || true)}"
die() { echo "run-local.sh: error: $*" >&2; exit 2; }

target="" out="" start_in=5 overrides=()
while [ $# -gt 0 ]; do
  case "$1" in
    --connect) target="${2:?--connect needs HOST:PORT}"; shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --start-in) start_in="${2:?--start-in needs seconds}"; shift 2 ;;
    *=*) overrides+=("$1"); shift ;;
    *) die "unknown argument '$1' (see the usage at the top of $0)" ;;
  esac
done
[ -n "$target" ] || die "--connect HOST:PORT is required"
[ -x "$RPYCBENCH" ] || die "no rpycbench binary: set RPYCBENCH=/path/to/rpycbench or put it on PATH"
"$PYTHON" -c 'import yaml' 2>/dev/null || die "$PYTHON cannot import yaml: set PYTHON to a python3 with PyYAML"
out="${out:-$(mktemp -d)}"
mkdir -p "$out"
# The manifests call `rpycbench` by name, as in the image.
export PATH="$(dirname "$RPYCBENCH"):$PATH"

jobs_file="$HERE/k8s/indexed-job.yaml"
workers="${WORKERS:-$("$PYTHON" "$HERE/k8s/job_command.py" "$jobs_file" rpycbench-workers --completions)}"
start_at="$("$PYTHON" -c "import time, sys; print(int(time.time()) + int(sys.argv[1]))" "$start_in")"
set_env=(TARGET="$target" START_AT="$start_at" RESULTS="$out" ${overrides[@]+"${overrides[@]}"})

pids=()
# Workers still running when this script ends (an error, Ctrl-C) are stopped with it.
trap 'for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done' EXIT
for ((i = 0; i < workers; i++)); do
  mapfile -d '' line < <("$PYTHON" "$HERE/k8s/job_command.py" "$jobs_file" rpycbench-workers "$i" "${set_env[@]}")
  echo "worker $i: ${line[*]}" >&2
  "${line[@]}" >"$out/worker-$i.log" &
  pids+=("$!")
done
failed=0
for ((i = 0; i < workers; i++)); do
  wait "${pids[$i]}" || { echo "run-local.sh: worker $i failed" >&2; failed=1; }
done
pids=()
[ "$failed" = 0 ] || exit 1

mapfile -d '' line < <("$PYTHON" "$HERE/k8s/job_command.py" "$HERE/k8s/merge-job.yaml" rpycbench-merge 0 RESULTS="$out")
echo "merge: ${line[*]}" >&2
"${line[@]}"
