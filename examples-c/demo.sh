#!/usr/bin/env bash
# `make demo`: append a generated 256 MiB file to an object with append_file, append a
# second file to the same object (resume), and check the object's length and CRC-64
# against a local computation by the official oss2 SDK's CRC-64.
#
# Against the local OSS server on a free port, unless OSS_ENDPOINT and OSS_BUCKET (and
# credentials: OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET, optional OSS_SESSION_TOKEN and
# OSS_REGION) are set, in which case that endpoint and bucket are used.
#
# usage: demo.sh APPEND_FILE SERVER PYTHON   (built by the Makefile)
set -euo pipefail

append_file=$1 server_binary=$2 python=$3
work=$(dirname "$append_file")/demo
mkdir -p "$work"
size_mib=${DEMO_MIB:-256}

server_pid=
stop_server() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null || true; }
trap stop_server EXIT

if [ -n "${OSS_ENDPOINT:-}" ] && [ -n "${OSS_BUCKET:-}" ]; then
    bucket=$OSS_BUCKET
    key=oss-append-demo/$(date +%Y%m%d-%H%M%S)-$$.bin
    echo "demo: using $OSS_ENDPOINT, bucket $bucket"
else
    bucket=demo-bucket
    key=demo/append.bin
    export OSS_ACCESS_KEY_ID=demo-ak OSS_ACCESS_KEY_SECRET=demo-secret OSS_REGION=cn-hangzhou
    unset OSS_SESSION_TOKEN
    coproc SERVER { exec "$server_binary" --access-key-id "$OSS_ACCESS_KEY_ID" \
        --access-key-secret "$OSS_ACCESS_KEY_SECRET" --bucket "$bucket"; }
    server_pid=$SERVER_PID
    read -r line <&"${SERVER[0]}"
    export OSS_ENDPOINT=${line#listening on }
    echo "demo: local OSS server at $OSS_ENDPOINT (pid $server_pid)"
fi

echo "demo: generating ${size_mib} MiB and 16 MiB of random data in $work"
head -c "$((size_mib << 20))" /dev/urandom > "$work/first.bin"
head -c "$((16 << 20))" /dev/urandom > "$work/second.bin"

echo "demo: create oss://$bucket/$key from first.bin"
"$append_file" "$work/first.bin" "oss://$bucket/$key" > "$work/first.out"
echo "demo: resume: append second.bin to the same object"
"$append_file" "$work/second.bin" "oss://$bucket/$key" > "$work/second.out"

result=$(tail -n 1 "$work/second.out")
length=$(sed -n 's/.* length=\([0-9]*\) .*/\1/p' <<< "$result")
crc=$(sed -n 's/.* crc64=\([0-9]*\)$/\1/p' <<< "$result")
read -r local_length local_crc < <("$python" - "$work/first.bin" "$work/second.bin" <<'PY'
import sys
from oss2.utils import Crc64
crc, length = Crc64(0), 0
for name in sys.argv[1:]:
    with open(name, "rb") as f:
        while chunk := f.read(1 << 20):
            crc.update(chunk)
            length += len(chunk)
print(length, crc.crc)
PY
)
echo "demo: object length $length, CRC-64 $crc"
echo "demo: local  length $local_length, CRC-64 $local_crc (oss2's CRC-64)"
if [ "$length" != "$local_length" ] || [ "$crc" != "$local_crc" ]; then
    echo "demo: MISMATCH" >&2
    exit 1
fi
echo "demo: the object matches the local files"
