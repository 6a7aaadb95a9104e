#!/usr/bin/env bash
# Ingest throughput of oss-local-server in --discard mode: curl appends a page-cached file to
# one object over loopback, each request signed with V1 (openssl), and the figure printed.
# Usage: benches/server_ingest.sh [SERVER_BINARY] ; MIB (per request) and REQUESTS to change.
set -euo pipefail
server_bin=${1:-target/release/oss-local-server}
mib=${MIB:-256}
requests=${REQUESTS:-8}
ak=bench-ak sk=bench-secret bucket=bench key=ingest
work=target/bench
mkdir -p "$work"
body="$work/body-${mib}m.bin"
[ -s "$body" ] || head -c $((mib << 20)) /dev/urandom > "$body"
cat "$body" > /dev/null # into the page cache

"$server_bin" --discard --access-key-id $ak --access-key-secret $sk --bucket $bucket > "$work/server.out" &
server_pid=$!
trap 'kill $server_pid 2>/dev/null' EXIT
for _ in $(seq 50); do grep -q listening "$work/server.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/server.out")

size=$((mib << 20))
total_seconds=0
for i in $(seq 0 $((requests - 1))); do
  position=$((i * size))
  date=$(LC_ALL=C date -u +'%a, %d %b %Y %H:%M:%S GMT')
  string_to_sign=$(printf 'POST\n\napplication/octet-stream\n%s\n/%s/%s?append&position=%s' "$date" $bucket $key $position)
  signature=$(printf '%s' "$string_to_sign" | openssl dgst -sha1 -hmac $sk -binary | base64)
  # -T streams the file; -X POST makes it an append; "Expect:" as the SDKs send it.
  result=$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' -X POST -T "$body" \
    -H "Date: $date" -H "Authorization: OSS $ak:$signature" \
    -H "Content-Type: application/octet-stream" -H "Expect:" \
    "$url/$bucket/$key?append&position=$position")
  read -r status seconds <<< "$result"
  [ "$status" = 200 ] || { echo "append $i failed: HTTP $status" >&2; exit 1; }
  total_seconds=$(echo "$total_seconds + $seconds" | bc -l)
done
bytes=$((size * requests))
echo "oss-local-server --discard ingest: $requests appends of $mib MiB from curl over loopback"
printf 'total %d MiB in %.3f s: %.0f MB/s (%.2f GB/s)\n' $((bytes >> 20)) "$total_seconds" \
  "$(echo "$bytes / $total_seconds / 1000000" | bc -l)" "$(echo "$bytes / $total_seconds / 1000000000" | bc -l)"
