# Schemas are checked against the data: a declared field a file lacks, or files of one glob with
# different headers, stop the run at start naming file and field (exit 2), unless
# missing_fields: null asks for nulls (with a warning naming them). Repeated header names are
# renamed with a warning; inferred whole numbers beyond int64 are an error, not doubles.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# --- 1. A declared field that is not in the header.
printf 'id,name\n1,a\n2,b\n' > quotes.csv
file_pipeline declared.yaml quotes.csv "schema: {id: int64, price: double}"
run_fresh declared.yaml
expect_status 2 "declared field missing from the header"
expect_stderr "declared.yaml:5:" "missing field: points at the source"
expect_stderr "quotes.csv: the schema declares field 'price', which the input does not have" \
  "missing field: names file and field"
expect_stderr "missing_fields: null" "missing field: hint names the option"
[ ! -f out.jsonl ] || fail "missing field: nothing is written"
pass
file_pipeline declared_null.yaml quotes.csv "schema: {id: int64, price: double}" "missing_fields: null"
run_fresh declared_null.yaml
expect_status 0 "missing_fields: null"
expect_stderr "no field price in the input; read as null" "missing_fields: null warns naming the field"
[ "$(grep -c '"price":null' out.jsonl)" -eq 2 ] || fail "missing_fields: null reads nulls"
expect_conservation 2 "$(lines out.jsonl)" 0 "$(summary_count 'dead letters?')" 0 "missing_fields: null"
pass

# --- 2. Files of one glob with different headers.
mkdir -p parts
printf 'id,name,price\n1,a,1.5\n2,b,2.5\n' > parts/a.csv
printf 'id,name\n3,c\n' > parts/b.csv
printf 'id,name,price,qty\n4,d,4.5,7\n' > parts/c.csv
file_pipeline glob.yaml "parts/*.csv"
run_fresh glob.yaml
expect_status 2 "different headers in a glob"
expect_stderr "the columns of 'parts/b.csv' differ from 'parts/a.csv', the first file: it lacks price" \
  "different headers: names file and field"
pass
file_pipeline glob_null.yaml "parts/*.csv" "missing_fields: null"
run_fresh glob_null.yaml
expect_status 0 "different headers, missing_fields: null"
expect_stderr "'parts/b.csv' differ" "different headers: warning for b"
expect_stderr "it adds qty" "different headers: warning for c"
grep -q '"id":4,"name":"d","price":4.5,"qty":7' out.jsonl || fail "different headers: no column lost"
grep -q '"id":3,"name":"c","price":null,"qty":null' out.jsonl || fail "different headers: nulls where missing"
expect_conservation 4 "$(lines out.jsonl)" 0 "$(summary_count 'dead letters?')" 0 "different headers"
pass

# --- 3. Repeated header names are renamed, with a warning; no column is dropped.
printf 'a,b,a\n1,2,3\n' > dup.csv
file_pipeline dup.yaml dup.csv
run_fresh dup.yaml
expect_status 0 "repeated header names"
expect_stderr "the header repeats column names; read 'a' as 'a_2'" "repeated names: warning"
grep -qx '{"a":1,"b":2,"a_2":3}' out.jsonl || fail "repeated names: every column kept once"
pass

# --- 4. An inferred integer column that overflows int64.
printf 'id,big\n1,5\n2,9223372036854775808\n' > big.csv
file_pipeline big.yaml big.csv
run_fresh big.yaml
expect_status 2 "integer beyond int64"
expect_stderr "column 'big': whole numbers beyond the int64 range (e.g. 9223372036854775808)" \
  "integer overflow: names column and value"
expect_stderr "declare the column in schema as double or string" "integer overflow: hint"
pass
file_pipeline big_declared.yaml big.csv "schema: {id: int64, big: string}"
run_fresh big_declared.yaml
expect_status 0 "integer beyond int64, declared string"
grep -q '"big":"9223372036854775808"' out.jsonl || fail "declared string keeps every digit"
pass

finish
