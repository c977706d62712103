# A run publishes every sink's output or none: a failing sink (full disk, read-only directory,
# a console on a full device) leaves every previous output as it was, removes every temporary
# file and exits 1 naming the sink, the path and the OS error.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_quotes in.csv 500000
cat > two_sinks.yaml <<'YAML'
name: two_sinks
sources:
  quotes: {connector: file, path: in.csv}
pipeline:
  - filter: "price >= 10"
sinks:
  archive: {connector: file, path: out/archive.csv}
  small: {connector: file, path: disk/small.jsonl}
YAML

# A complete first run: the outputs that must survive.
run_sluice run --no-progress two_sinks.yaml
expect_status 0 "complete run"
rows_in=$(summary_count 'rows? in')
out=$(( $(lines out/archive.csv) - 1 ))
filtered=$(python3 -c "print(sum(1 for i in range(500000) if i % 997 < 10))")
expect_conservation "$rows_in" "$out" "$filtered" 0 0 "complete run"
[ "$(lines disk/small.jsonl)" -eq "$out" ] || fail "complete run: the two sinks differ"
pass
archive_before=$(file_digest out/archive.csv)
small_before=$(file_digest disk/small.jsonl)

# The second sink's disk fills up (a 2 MB tmpfs mounted over its directory).
cat > full_disk.sh <<SH
set -e
"$SLUICE" run --no-progress two_sinks.yaml 2> stderr.txt && status=0 || status=\$?
echo "\$status" > status.txt
ls -A disk > disk-listing.txt
SH
# The old file does not fit on the small disk either: the disk starts empty, and the check is
# that the failed run leaves nothing there (no partial file, no temporary file).
with_small_disk 2 disk bash full_disk.sh
status=$(cat status.txt)
expect_status 1 "full disk"
expect_stderr "sink 'small'" "full disk"
expect_stderr "disk/small.jsonl" "full disk"
expect_stderr "ENOSPC" "full disk"
expect_stderr "no output published" "full disk"
[ "$(file_digest out/archive.csv)" = "$archive_before" ] ||
  fail "full disk: the first sink's previous output was replaced"
[ ! -s disk-listing.txt ] || fail "full disk: left on the disk: $(cat disk-listing.txt)"
[ -z "$(ls -A out | grep -v '^archive.csv$' || true)" ] || fail "full disk: temporary files left in out/"
pass

# A read-only directory (a read-only bind mount, which holds for root too).
cat > read_only.sh <<SH
set -e
mount --bind disk disk && mount -o remount,bind,ro disk
"$SLUICE" run --no-progress two_sinks.yaml 2> stderr.txt && status=0 || status=\$?
echo "\$status" > status.txt
SH
if [ "$(id -u)" -eq 0 ]; then unshare -m bash read_only.sh; else unshare -rm bash read_only.sh; fi
status=$(cat status.txt)
expect_status 1 "read-only directory"
expect_stderr "Read-only file system" "read-only directory"
[ "$(file_digest out/archive.csv)" = "$archive_before" ] || fail "read-only: archive replaced"
[ "$(file_digest disk/small.jsonl)" = "$small_before" ] || fail "read-only: small replaced"
pass

# The console writing into a full device fails the run: the Parquet archive is not published.
cat > console.yaml <<'YAML'
name: console
sources:
  quotes: {connector: file, path: in.csv}
sinks:
  screen: {connector: console, format: jsonl}
  archive: {connector: file, path: out/archive.parquet}
YAML
set +e
"$SLUICE" run --no-progress console.yaml > /dev/full 2> stderr.txt
status=$?
set -e
expect_status 1 "console on /dev/full"
expect_stderr "sink 'screen'" "console on /dev/full"
expect_stderr "No space left on device" "console on /dev/full"
[ ! -e out/archive.parquet ] || fail "console on /dev/full: the archive was published"
pass

# Temporary files of a killed run are recognised and removed by the next run.
kill_at=$(( RANDOM % 400 + 300 ))
"$SLUICE" run --no-progress two_sinks.yaml 2> stderr.txt &
pid=$!
sleep "0.$kill_at"
kill -KILL "$pid"
wait "$pid" || true
run_sluice run --no-progress two_sinks.yaml
expect_status 0 "run after SIGKILL"
[ -z "$(ls -A out disk | grep sluice- || true)" ] || fail "after SIGKILL: temporary files left: $(ls -A out disk)"
[ "$(file_digest out/archive.csv)" = "$archive_before" ] || fail "after SIGKILL: wrong archive"
pass

finish
