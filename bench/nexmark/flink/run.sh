#!/usr/bin/env bash
# Runs one Nexmark query on Apache Flink (local, parallelism 1) over Sluice's generator.
#
#   bench/nexmark/flink/run.sh --query q5 --events 2000000 --mode time
#   bench/nexmark/flink/run.sh --query q5 --events 100000 --mode results --output q5.csv
#
# Builds target/nexmark-flink.jar first when it is missing or older than pom.xml or src/ (Maven
# runs offline once its dependencies are in the local repository). stdout carries only the JSON
# result line; the build's and Flink's messages go to stderr. JVM options can be replaced with
# NEXMARK_FLINK_JAVA_OPTS. Pin it to cores from outside, e.g. `taskset -c 0 .../run.sh ...`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
jar="$here/target/nexmark-flink.jar"

if [[ ! -f "$jar" ]] || [[ -n "$(find "$here/pom.xml" "$here/src" -newer "$jar" -print -quit)" ]]; then
  echo "run.sh: building $jar" >&2
  build=(-q -B -Dstyle.color=never -f "$here/pom.xml" package -DskipTests)
  # Maven's output goes to stderr, without the colour codes some Maven builds print anyway.
  mvn_quiet() { mvn "$@" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2; }
  if ! mvn_quiet -o "${build[@]}"; then
    echo "run.sh: offline build failed; retrying with downloads" >&2
    mvn_quiet "${build[@]}"
  fi
fi

# Heap state lives on the JVM heap: 8 GB leaves room for the join and Top-N queries at tens of
# millions of events on a 24 GB machine. The collector is the JVM's own choice (pinned to one
# core, that is the serial collector).
java_opts=(${NEXMARK_FLINK_JAVA_OPTS:--Xms2g -Xmx8g})
exec java "${java_opts[@]}" -jar "$jar" "$@"
