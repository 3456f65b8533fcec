# loopback.sh - sourced by the scripts that record captures from real
# programs on the loopback interface (scripts/make-sample.sh,
# tests/captures/make.sh): a scratch folder, bounded background servers
# remembered by PID, and their cleanup on exit.
#
#   source scripts/loopback.sh     sets $work and the EXIT trap
#   bg SECONDS CMD...              starts CMD under `timeout`, sets $last_pid
#   stop PID                       stops one of them
#   wait_port tcp|udp PORT         waits until something listens there

work=$(mktemp -d)
pids=()

loopback_cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap loopback_cleanup EXIT

bg() {
	local secs=$1
	shift
	timeout "$secs" "$@" >>"$work/servers.log" 2>&1 &
	pids+=($!)
	last_pid=$!
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

wait_port() {
	for _ in $(seq 1 50); do
		if ss -ln"${1:0:1}" "sport = :$2" | grep -q ":$2"; then return 0; fi
		sleep 0.1
	done
	echo "$(basename "$0"): nothing listening on $1/$2" >&2
	return 1
}
