# Outputs that are not regular files, and standard streams that are closed or go away: a device,
# a FIFO or /dev/stdout is written in place (never replaced by a file), a symlink's target is
# replaced and the link stays, a directory is an error; with stdout closed no output lands in
# another file; `| head` ends only the console, the other sinks finish, the exit status is 141.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_quotes in.csv 200000
cat > one.yaml <<'YAML'
name: one
sources:
  quotes: {connector: file, path: in.csv}
sinks:
  out: {connector: file, path: out.csv, format: csv}
YAML

# A character device stays the device it is (a rename would replace it by a file). As root the
# case uses a device node of its own, the same as /dev/null, so that a failure cannot break the
# machine's /dev/null; without root it uses /dev/null, which a user cannot replace anyway.
device=/dev/null
if [ "$(id -u)" -eq 0 ]; then
  mknod -m 666 null_device c 1 3
  device="$PWD/null_device"
fi
run_sluice run --no-progress one.yaml --set "sinks.out.path=$device"
expect_status 0 "character device"
[ -c "$device" ] || fail "$device is no longer a character device"
[ -z "$(ls -A | grep sluice- || true)" ] || fail "character device: temporary files left"
pass

# /dev/stdout is the process's standard output, here a file opened for appending by the shell.
echo "first line" > appended.txt
set +e
"$SLUICE" run --no-progress one.yaml --set sinks.out.path=/dev/stdout >> appended.txt 2> stderr.txt
status=$?
set -e
expect_status 0 "/dev/stdout"
[ "$(head -n 1 appended.txt)" = "first line" ] || fail "/dev/stdout: the file was replaced"
[ "$(lines appended.txt)" -eq 200002 ] || fail "/dev/stdout: $(lines appended.txt) lines"
pass

# A FIFO gets the rows and stays a FIFO.
mkfifo rows.fifo
wc -l < rows.fifo > fifo-count.txt &
reader=$!
run_sluice run --no-progress one.yaml --set sinks.out.path=rows.fifo
wait "$reader"
expect_status 0 "FIFO"
[ -p rows.fifo ] || fail "FIFO: replaced by a regular file"
[ "$(tr -d ' ' < fifo-count.txt)" -eq 200001 ] || fail "FIFO: reader got $(cat fifo-count.txt) lines"
pass

# A symlink: its target is replaced, the link stays a link.
mkdir -p real
echo "old" > real/target.csv
ln -s real/target.csv link.csv
run_sluice run --no-progress one.yaml --set sinks.out.path=link.csv
expect_status 0 "symlink"
[ -L link.csv ] || fail "symlink: the link was replaced by a file"
[ "$(lines real/target.csv)" -eq 200001 ] || fail "symlink: the target was not written"
[ -z "$(ls -A real | grep sluice- || true)" ] || fail "symlink: temporary files left"
pass

# A directory is an error, and nothing is written beside it.
mkdir -p a_directory
run_sluice run --no-progress one.yaml --set sinks.out.path=a_directory
[ "$status" -ne 0 ] || fail "directory: the run succeeded"
expect_stderr "is a directory" "directory"
[ -d a_directory ] && [ -z "$(ls -A a_directory)" ] || fail "directory: it was changed"
pass

# With stdout closed, the console's rows must not land in the file sink's CSV.
cat > console.yaml <<'YAML'
name: console
sources:
  quotes: {connector: file, path: in.csv}
sinks:
  screen: {connector: console, format: jsonl}
  archive: {connector: file, path: archive.csv}
YAML
set +e
"$SLUICE" run --no-progress console.yaml >&- 2> stderr.txt
status=$?
set -e
expect_status 0 "closed stdout"
[ "$(lines archive.csv)" -eq 200001 ] || fail "closed stdout: archive has $(lines archive.csv) lines"
! grep -q '{' archive.csv || fail "closed stdout: console output landed in the archive"
pass

# `| head`: the console's reader goes away; the archive is still complete.
rm -f archive.csv
set +e
"$SLUICE" run --no-progress console.yaml 2> stderr.txt | head -n 3 > head.txt
status=${PIPESTATUS[0]}
set -e
expect_status 141 "| head"
expect_stderr "closed its pipe" "| head"
[ "$(lines head.txt)" -eq 3 ] || fail "| head: head got $(lines head.txt) lines"
[ "$(lines archive.csv)" -eq 200001 ] || fail "| head: archive has $(lines archive.csv) lines"
pass

finish
