# The sql step reads only its input: no local file, directory listing, URL or extension, and no
# statement can lift that; the refusal comes before the run and says how to allow a file.
# allow_files opens the listed files and directories, and nothing outside them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p pipelines data/ref
printf 'symbol,volume\nA,1\nB,2\nC,3\n' > quotes.csv
printf 'symbol,name\nA,Alpha\nB,Beta\n' > data/ref/names.csv
printf 'secret\n42\n' > data/secret.csv

pipeline() {  # pipeline FILE STEP: a pipeline in FILE's folder reading quotes.csv with one step
  cat > "$1" <<YAML
name: sandbox
sources:
  quotes: {connector: file, path: quotes.csv, schema: {symbol: string, volume: int64}}
pipeline:
  - sql: $2
sinks:
  out: {connector: file, path: out.jsonl}
YAML
}

refused() {  # refused STEP WHAT: validate and run both refuse STEP before reading anything
  pipeline p.yaml "$1"
  for command in validate run; do
    rm -f out.jsonl
    run_sluice "$command" p.yaml
    expect_status 2 "$2 ($command)"
    expect_stderr "p.yaml:5:" "$2 ($command): the error points at the step"
    expect_stderr "allow_files" "$2 ($command): the hint names allow_files"
    expect_no_stderr "root:x:0:0" "$2 ($command): a file's content leaked"
    [ ! -f out.jsonl ] || fail "$2 ($command): the run wrote output"
  done
  pass
}

refused "\"SELECT i.*, p.* FROM input i, read_csv('/etc/passwd') p\"" "read_csv of /etc/passwd"
expect_stderr "Permission Error" "read_csv: DuckDB's reason"
refused "\"SELECT i.*, t.content FROM input i, read_text('/etc/passwd') t\"" "read_text"
refused "\"SELECT i.*, g.file FROM input i, glob('/etc/*') g\"" "glob"
refused "\"SELECT * FROM input, 'data/secret.csv'\"" "a file named as a table"
refused "\"COPY (SELECT * FROM input) TO 'copied.csv'\"" "COPY ... TO"
[ ! -f copied.csv ] || fail "COPY wrote copied.csv"
refused "\"INSTALL httpfs\"" "INSTALL httpfs"
refused "\"LOAD httpfs\"" "LOAD httpfs"
refused "\"SELECT * FROM read_csv('https://example.com/quotes.csv')\"" "a URL"
refused "\"SET enable_external_access = true\"" "SET enable_external_access"
pipeline p.yaml "\"SELECT * FROM input; SET enable_external_access = true\""
run_sluice validate p.yaml
expect_status 2 "a SET after a query"
expect_stderr "Cannot prepare multiple statements" "a SET after a query"
pass

# allow_files, relative to the pipeline file: the listed directory is readable...
pipeline pipelines/join.yaml \
  "{query: \"SELECT i.symbol, r.name FROM input i JOIN read_csv('data/ref/names.csv') r USING (symbol) ORDER BY 1\", allow_files: [../data/ref/]}"
# The source and the statement name files from the working directory (as DuckDB opens them);
# allow_files names them from the pipeline file.
rm -f out.jsonl
run_sluice run pipelines/join.yaml
expect_status 0 "allow_files: the listed directory"
[ "$(cat out.jsonl)" = "$(printf '%s\n' '{"symbol":"A","name":"Alpha"}' '{"symbol":"B","name":"Beta"}')" ] ||
  fail "allow_files: unexpected output $(cat out.jsonl)"
pass

# ...and a path outside it is refused, also through '..' or an absolute path.
for outside in data/secret.csv data/ref/../secret.csv "$PWD/data/secret.csv" /etc/passwd; do
  pipeline p.yaml "{query: \"SELECT * FROM input, read_csv('$outside')\", allow_files: [data/ref/]}"
  run_sluice validate p.yaml
  expect_status 2 "allow_files: $outside outside the listed directory"
  expect_stderr "Permission Error" "allow_files: $outside"
  pass
done

# A listed path that does not exist is a mistake, reported as one.
pipeline p.yaml "{query: \"SELECT * FROM input\", allow_files: [data/reference/]}"
run_sluice validate p.yaml
expect_status 2 "allow_files: a missing directory"
expect_stderr "allow_files lists 'data/reference/', which is no file or directory" "allow_files: missing"
pass

finish
