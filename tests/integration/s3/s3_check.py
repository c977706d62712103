"""What the S3 integration cases do with the server themselves, through pyarrow's S3 client
(never through Sluice): make buckets, upload a folder, say whether a key exists, and read an
object back as JSON lines. Endpoint and credentials come from the AWS environment.

  s3_check.py mkbucket BUCKET
  s3_check.py put LOCAL_DIR BUCKET/PREFIX     upload every file under LOCAL_DIR
  s3_check.py exists BUCKET/KEY               exit 0 when the object exists, 1 when not
  s3_check.py parquet BUCKET/KEY              the object's rows as JSON lines
  s3_check.py size BUCKET/KEY                 its size in bytes
  s3_check.py count BUCKET/PREFIX SUFFIX      how many objects under PREFIX end with SUFFIX
  s3_check.py parquet-local PATH              a local Parquet file's rows as JSON lines
  s3_check.py rows BUCKET/PREFIX SUFFIX       the rows of every object under PREFIX ending with
                                              SUFFIX (Parquet or JSON lines), as sorted JSON lines
  s3_check.py same-rows BUCKET/PREFIX SUFFIX LOCAL.jsonl
                                              the Parquet objects under PREFIX hold LOCAL's rows,
                                              each once (by id): prints "ROWS DUPLICATES EQUAL"
  s3_check.py uploads BUCKET/PREFIX           the keys of the multipart uploads in progress under
                                              PREFIX, one a line (boto3: pyarrow cannot list them)
  s3_check.py start-upload BUCKET/KEY         begins a multipart upload and leaves it (boto3)
  s3_check.py gen DIR N                       N files of each format with the same rows
"""

import json
import os
import sys

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.fs as pfs
import pyarrow.parquet as pq


def filesystem():
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    scheme, host = endpoint.split("://", 1)
    return pfs.S3FileSystem(
        access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        endpoint_override=host,
        scheme=scheme,
        region=os.environ.get("AWS_REGION", "us-east-1"),
        allow_bucket_creation=True,
    )


def s3_client():
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
    )


def split(path):
    bucket, _, key = path.partition("/")
    return bucket, key


def uploads(path):
    bucket, prefix = split(path)
    answer = s3_client().list_multipart_uploads(Bucket=bucket, Prefix=prefix)
    for upload in answer.get("Uploads", []):
        print(upload["Key"])


def rows_under(fs, path, suffix):
    lines = []
    selector = pfs.FileSelector(path, recursive=True, allow_not_found=True)
    for info in fs.get_file_info(selector):
        if info.type != pfs.FileType.File or not info.path.endswith(suffix):
            continue
        with fs.open_input_file(info.path) as f:
            if suffix.endswith(".parquet"):
                rows = pq.read_table(f).to_pylist()
            else:
                rows = [json.loads(line) for line in f.read().decode().splitlines()]
        lines.extend(json.dumps(row, default=str, sort_keys=True) for row in rows)
    for line in sorted(lines):
        print(line)


def same_rows(fs, path, suffix, local):
    """Compares columnar (sorted by id), for row counts where JSON lines would be slow."""
    import pyarrow.compute as pc
    import pyarrow.json as pjson

    tables = []
    selector = pfs.FileSelector(path, recursive=True, allow_not_found=True)
    for info in fs.get_file_info(selector):
        if info.type == pfs.FileType.File and info.path.endswith(suffix):
            with fs.open_input_file(info.path) as f:
                tables.append(pq.read_table(f))
    expected = pjson.read_json(local)
    got = pa.concat_tables(tables).select(expected.column_names) if tables else expected.slice(0, 0)
    duplicates = got.num_rows - len(pc.unique(got["id"]))
    got = got.sort_by("id").cast(expected.schema)
    equal = got.equals(expected.sort_by("id"))
    print(got.num_rows, duplicates, "equal" if equal else "different")


def rows_as_jsonl(table):
    for row in table.to_pylist():
        print(json.dumps(row, default=str, sort_keys=True))


def gen(folder, count):
    """count files of each format; file i holds 150 rows, ids continuing across files."""
    for fmt in ("parquet", "csv", "jsonl"):
        os.makedirs(os.path.join(folder, fmt), exist_ok=True)
    next_id = 0
    for i in range(count):
        ids = list(range(next_id, next_id + 150))
        next_id += 150
        table = pa.table(
            {
                "id": pa.array(ids, pa.int64()),
                "name": pa.array([f"item-{j % 97}" if j % 31 else None for j in ids]),
                "price": pa.array([j * 0.25 for j in ids], pa.float64()),
                "ok": pa.array([j % 3 == 0 for j in ids]),
            }
        )
        pq.write_table(table, os.path.join(folder, "parquet", f"part-{i:04d}.parquet"),
                       row_group_size=40)
        pcsv.write_csv(table, os.path.join(folder, "csv", f"part-{i:04d}.csv"))
        with open(os.path.join(folder, "jsonl", f"part-{i:04d}.jsonl"), "w") as out:
            for row in table.to_pylist():
                out.write(json.dumps(row) + "\n")


def main():
    command, *args = sys.argv[1:]
    if command == "gen":
        gen(args[0], int(args[1]))
        return 0
    if command == "parquet-local":
        rows_as_jsonl(pq.read_table(args[0]))
        return 0
    if command == "uploads":
        uploads(args[0])
        return 0
    if command == "start-upload":
        bucket, key = split(args[0])
        s3_client().create_multipart_upload(Bucket=bucket, Key=key)
        return 0
    fs = filesystem()
    if command == "rows":
        rows_under(fs, args[0], args[1])
        return 0
    if command == "same-rows":
        same_rows(fs, *args)
        return 0
    if command == "mkbucket":
        fs.create_dir(args[0])
    elif command == "put":
        local, prefix = args
        for folder, _, names in os.walk(local):
            for name in names:
                path = os.path.join(folder, name)
                key = prefix + "/" + os.path.relpath(path, local)
                with open(path, "rb") as src, fs.open_output_stream(key, compression=None) as dst:
                    dst.write(src.read())
    elif command == "exists":
        return 0 if fs.get_file_info(args[0]).type == pfs.FileType.File else 1
    elif command == "count":
        selector = pfs.FileSelector(args[0], recursive=True, allow_not_found=True)
        print(sum(1 for i in fs.get_file_info(selector) if i.path.endswith(args[1])))
    elif command == "size":
        print(fs.get_file_info(args[0]).size)
    elif command == "parquet":
        with fs.open_input_file(args[0]) as f:
            rows_as_jsonl(pq.read_table(f))
    else:
        print(f"unknown command {command}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
