#!/usr/bin/env bash
# Runs the load suite described in docs/PERFORMANCE.md: builds coffer and
# tools/loadgen, starts coffer on raft storage in a fresh temporary
# directory with a plain-HTTP listener on 127.0.0.1, initialises it with one
# key share and unseals it through the API, runs every workload (8 workers,
# 15 s each by default), samples the server's VmRSS/VmHWM after each, and
# prints one table with the shares of each workload's ceiling. Everything it
# starts is stopped when it ends, also on Ctrl-C.
#
# Settings (environment or flags):
#   DURATION=15s     -duration D     measured time per workload
#   WORKERS=8        -workers N      concurrent workers
#   WORKLOADS=all    -workloads L    comma-separated subset (see loadgen -h)
#   RUNS=1           -runs N         fresh server per run; the table is the median
#   ADDR=127.0.0.1:8291              server listener
#   PPROF_ADDR=127.0.0.1:6060        profiling listener (with -pprof)
#   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
#   OUT=<dir>                        keep reports, logs (and profiles) here
#   LOADGEN_FLAGS="-pg-table"        further loadgen flags (go run ./tools/loadgen -h)
#   -pprof                           also fetch CPU, allocs, mutex, block and heap
#                                    profiles of each workload into $OUT/pprof-run<N>/
#                                    (profiling slows the server: do not quote these figures)
set -euo pipefail

DURATION=${DURATION:-15s}
WORKERS=${WORKERS:-8}
WORKLOADS=${WORKLOADS:-all}
RUNS=${RUNS:-1}
ADDR=${ADDR:-127.0.0.1:8291}
PPROF_ADDR=${PPROF_ADDR:-127.0.0.1:6060}
PPROF=0
OUT=${OUT:-}
read -r -a extra_flags <<<"${LOADGEN_FLAGS:-}"

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    -pprof|--pprof) PPROF=1 ;;
    -duration|--duration) DURATION=$2; shift ;;
    -workers|--workers) WORKERS=$2; shift ;;
    -workloads|--workloads) WORKLOADS=$2; shift ;;
    -runs|--runs) RUNS=$2; shift ;;
    -h|-help|--help) usage; exit 0 ;;
    *) echo "bench.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d -t coffer-bench.XXXXXX)
keep_out=1
if [ -z "$OUT" ]; then
  OUT=$work/out
  keep_out=$PPROF
fi
mkdir -p "$OUT"

SERVER_PID=
LOADGEN_PID=

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

cleanup() {
  local rc=$?
  # A further Ctrl-C reaches the load generator (which then quits at once)
  # but not this cleanup, so the server is always stopped.
  trap '' INT TERM
  trap - EXIT
  if [ -n "$LOADGEN_PID" ] && kill -0 "$LOADGEN_PID" 2>/dev/null; then
    echo "==> stopping the load generator (it tears its workloads down first)" >&2
    kill -TERM "$LOADGEN_PID" 2>/dev/null || true
    wait "$LOADGEN_PID" 2>/dev/null || true
  fi
  stop_server
  if [ "$keep_out" = 1 ] && [ "$OUT" = "$work/out" ]; then
    find "$work" -mindepth 1 -maxdepth 1 ! -name out -exec rm -rf {} +
    echo "==> reports, logs and profiles kept in $OUT" >&2
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if (exec 3<>"/dev/tcp/${ADDR%:*}/${ADDR##*:}") 2>/dev/null; then
  echo "bench.sh: $ADDR is already in use; set ADDR=host:port" >&2
  exit 1
fi

echo "==> building coffer and loadgen" >&2
(cd "$root" && go build -o "$work/coffer" ./cmd/coffer && go build -o "$work/loadgen" ./tools/loadgen)

reports=()
failed=0
for run in $(seq 1 "$RUNS"); do
  dir=$work/run$run
  mkdir -p "$dir/raft"
  cat >"$dir/server.hcl" <<EOF
storage "raft" {
  path    = "$dir/raft"
  node_id = "bench"
}
listener "tcp" {
  address     = "$ADDR"
  tls_disable = true
}
api_addr      = "http://$ADDR"
disable_mlock = true
EOF
  echo "==> run $run/$RUNS: starting coffer on $ADDR (raft in $dir/raft)" >&2
  pprof_args=()
  if [ "$PPROF" = 1 ]; then
    pprof_args=(-pprof-url "http://$PPROF_ADDR" -pprof-dir "$OUT/pprof-run$run")
    export COFFER_PPROF_ADDR=$PPROF_ADDR
  fi
  # Its own session, so that Ctrl-C reaches the load generator (which then
  # tears its mounts down through the API) and not the server.
  setsid "$work/coffer" server -config="$dir/server.hcl" >"$OUT/server-run$run.log" 2>&1 &
  SERVER_PID=$!
  if ! token=$("$work/loadgen" -init -addr "http://$ADDR"); then
    echo "bench.sh: the server did not initialise; its log:" >&2
    tail -n 30 "$OUT/server-run$run.log" >&2
    exit 1
  fi
  sleep 1 # let the unsealed server settle before the idle memory sample
  VAULT_TOKEN=$token "$work/loadgen" -addr "http://$ADDR" -workers "$WORKERS" -duration "$DURATION" \
    -workload "$WORKLOADS" -server-pid "$SERVER_PID" -out "$OUT/run$run.json" "${pprof_args[@]}" "${extra_flags[@]}" \
    >"$OUT/run$run.txt" &
  LOADGEN_PID=$!
  rc=0
  wait "$LOADGEN_PID" || rc=$?
  LOADGEN_PID=
  [ "$rc" = 0 ] || failed=$rc
  stop_server
  rm -rf "$dir"
  [ -f "$OUT/run$run.json" ] && reports+=("$OUT/run$run.json")
done

if [ "${#reports[@]}" -gt 0 ]; then
  echo >&2
  "$work/loadgen" -merge "$(IFS=,; echo "${reports[*]}")"
fi
if [ "$PPROF" = 1 ]; then
  echo
  echo "profiles: $OUT/pprof-run*/<workload>.{cpu,allocs,mutex,block,heap}.pb.gz, e.g."
  echo "  go tool pprof -top -nodecount=30 $OUT/pprof-run1/kvv2-write.cpu.pb.gz"
fi
exit "$failed"
