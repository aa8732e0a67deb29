#!/usr/bin/env bash
# kockpit and kdash side by side on the same `kockpit sim serve --scale` cluster (20 000 pods
# by default): each drawn in tmux at 160x48 in turn, its resident memory and CPU sampled
# from /proc while it loads and then while nothing changes. kdash is installed from
# crates.io into a directory outside the repository when missing (never committed).
#
#   benches/kdash.sh                 # 800 nodes, 20 000 pods
#   NODES=400 PODS=10000 benches/kdash.sh
#
# Needs tmux and a release build of kockpit (built here when missing).
set -euo pipefail

NODES=${NODES:-800}
PODS=${PODS:-20000}
# Seconds each tool gets to load, then seconds of idle measurement.
LOAD=${LOAD:-60}
IDLE=${IDLE:-20}
KDASH_ROOT=${KDASH_ROOT:-${TMPDIR:-/tmp}/kockpit-kdash}

repo=$(cd "$(dirname "$0")/.." && pwd)
kockpit=$repo/target/release/kockpit
if [ ! -x "$kockpit" ]; then
    (cd "$repo" && cargo build --release --bin kockpit)
fi
kdash=$KDASH_ROOT/bin/kdash
if [ ! -x "$kdash" ]; then
    echo "installing kdash into $KDASH_ROOT (outside the repository)" >&2
    CARGO_TARGET_DIR=$KDASH_ROOT/target cargo install kdash --locked --root "$KDASH_ROOT"
fi
command -v tmux >/dev/null || { echo "tmux is needed" >&2; exit 1; }

work=$(mktemp -d)
session=kockpit-vs-kdash-$$
server=
cleanup() {
    tmux kill-session -t "$session" 2>/dev/null || true
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

"$kockpit" sim serve --scale "$NODES,$PODS" --speed 0.0001 --listen 127.0.0.1:0 \
    --kubeconfig-out "$work/kubeconfig" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do
    grep -q "listening on" "$work/serve.log" 2>/dev/null && break
    sleep 0.2
done
grep -q "listening on" "$work/serve.log" || { cat "$work/serve.log" >&2; exit 1; }

ticks=$(getconf CLK_TCK)
# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
field_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# measure NAME COMMAND...: runs the command in tmux at 160x48 and prints one result line.
measure() {
    local name=$1
    shift
    tmux kill-session -t "$session" 2>/dev/null || true
    tmux new-session -d -s "$session" -x 160 -y 48 \
        "exec env KUBECONFIG=$work/kubeconfig TERM=xterm-256color $* 2>$work/$name.err"
    local pid
    pid=$(tmux list-panes -t "$session" -F '#{pane_pid}')
    # The pane execs `env`, which execs the tool: the pane pid is the tool.
    local start_ticks
    start_ticks=$(cpu_ticks "$pid")
    local peak_rss=0
    for _ in $(seq 1 "$LOAD"); do
        sleep 1
        [ -d "/proc/$pid" ] || { echo "$name exited:" >&2; cat "$work/$name.err" >&2; return 1; }
        local rss
        rss=$(field_kib "$pid" VmRSS)
        [ "$rss" -gt "$peak_rss" ] && peak_rss=$rss
    done
    local load_ticks=$(( $(cpu_ticks "$pid") - start_ticks ))
    local idle_start
    idle_start=$(cpu_ticks "$pid")
    local t0
    t0=$(date +%s.%N)
    sleep "$IDLE"
    local idle_ticks=$(( $(cpu_ticks "$pid") - idle_start ))
    local t1
    t1=$(date +%s.%N)
    local hwm
    hwm=$(field_kib "$pid" VmHWM)
    local rss_end
    rss_end=$(field_kib "$pid" VmRSS)
    tmux capture-pane -p -t "$session" >"$work/$name.screen"
    tmux kill-session -t "$session" 2>/dev/null || true
    awk -v name="$name" -v hwm="$hwm" -v rss="$rss_end" -v load="$load_ticks" \
        -v idle="$idle_ticks" -v hz="$ticks" -v t0="$t0" -v t1="$t1" 'BEGIN {
        printf "%-8s %12.0f %12.0f %16.1f %14.2f\n", name, hwm / 1024, rss / 1024,
            load / hz, 100 * idle / hz / (t1 - t0)
    }'
    echo "--- $name screen after $LOAD s:" >"$work/$name.shot"
    cat "$work/$name.screen" >>"$work/$name.shot"
}

echo "kockpit vs kdash: $NODES nodes, $PODS pods (sim serve), 160x48, load $LOAD s, idle $IDLE s"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
printf '%-8s %12s %12s %16s %14s\n' tool "peak MiB" "end MiB" "load CPU s" "idle CPU %"
measure kockpit "$kockpit" --kubeconfig "$work/kubeconfig"
measure kdash "$kdash"
for name in kockpit kdash; do
    [ -f "$work/$name.shot" ] && head -20 "$work/$name.shot"
done
