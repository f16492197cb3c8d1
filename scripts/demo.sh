#!/usr/bin/env bash
# Starts the two services in order, authserver first, each only once the one before is ready, so valuesapi never
# starts against an authority that is not listening yet. Used by `make run` and `make demo`.
#
#   scripts/demo.sh run    both in the foreground, their logs on this terminal; Ctrl-C stops both
#   scripts/demo.sh demo   logs to $BIN/authserver.log and $BIN/valuesapi.log, the narrated walkthrough, then stop
#
# A service that cannot start (its port taken, a bad flag) fails the script with its reason, instead of a demo that
# quietly talks to some other instance on the same ports. BIN (default bin) holds the binaries; the services read
# their usual AUTHSERVER_* / VALUESAPI_* variables, the walkthrough its WALKTHROUGH_* ones.
set -uo pipefail

mode=${1:-}
BIN=${BIN:-bin}
READY_TIMEOUT=${READY_TIMEOUT:-30}
case "$mode" in
run | demo) ;;
*)
	echo "usage: $0 run|demo" >&2
	exit 2
	;;
esac

pids=()
stop_all() {
	((${#pids[@]})) || return 0
	kill "${pids[@]}" 2>/dev/null
	wait "${pids[@]}" 2>/dev/null
	pids=()
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# start NAME LOGFILE: starts $BIN/NAME (logs to LOGFILE, or to this terminal when empty) and returns once its own
# /readyz answers 200, through the binary's `healthcheck` subcommand, which reads the same *_ADDR as the service.
start() {
	local name=$1 logfile=$2 pid i
	if "$BIN/$name" healthcheck >/dev/null 2>&1; then
		echo "error: another $name already answers on its port (is \`make run\` or \`make up\` running in another terminal?)." >&2
		echo "       Stop it, or give this one another address (${name^^}_ADDR)." >&2
		return 1
	fi
	if [[ -n $logfile ]]; then
		"$BIN/$name" >"$logfile" 2>&1 &
	else
		"$BIN/$name" &
	fi
	pid=$!
	pids+=("$pid")
	for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			echo "error: $name exited with status $? before it was ready." >&2
			if [[ -n $logfile ]]; then
				echo "       The end of $logfile:" >&2
				tail -n 5 "$logfile" | sed 's/^/         /' >&2
			fi
			return 1
		fi
		if "$BIN/$name" healthcheck >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	echo "error: $name was not ready within ${READY_TIMEOUT}s${logfile:+; see $logfile}." >&2
	return 1
}

if [[ $mode == demo ]]; then
	echo "Service logs: $BIN/authserver.log and $BIN/valuesapi.log"
	start authserver "$BIN/authserver.log" || exit 1
	start valuesapi "$BIN/valuesapi.log" || exit 1
	"$BIN/walkthrough"
	status=$?
	stop_all
	[[ $status == 0 ]] || echo "The walkthrough failed; the service logs are in $BIN/authserver.log and $BIN/valuesapi.log." >&2
	exit $status
fi

start authserver "" || exit 1
start valuesapi "" || exit 1
echo "authserver and valuesapi are ready; Ctrl-C stops both." >&2
# Returns when either service exits or on Ctrl-C; the EXIT trap stops the other.
wait -n "${pids[@]}"
