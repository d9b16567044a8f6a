#!/usr/bin/env bash
# Run a command under mpiexec so that only rank 0 prints; the others' output goes to a
# per-rank log that is shown if that rank fails.
rank=${PMI_RANK:-${OMPI_COMM_WORLD_RANK:-0}}
if [ "$rank" = 0 ]; then exec "$@"; fi
log=$(mktemp -t "rank${rank}.XXXX.log")
"$@" >"$log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then echo "---- rank $rank failed (exit $rc) ----"; tail -n 60 "$log"; fi
rm -f "$log"
exit $rc
