"""`make bench`: every figure of issue 7 in one run against one oss-local-server --discard on
127.0.0.1, printed as one table with the ratios and the targets; the bulk and small runs again
over HTTPS, against a second one serving TLS with a certificate made here for 127.0.0.1
(bulk beside curl uploading the same bytes to it, small beside the same appends over plain
HTTP); then, against a third one that delays every answer by LATENCY_MS (a link with that
round trip), log lines through the buffered appender beside one append per line, and the bulk
upload.

    bench.py SERVER APPEND_BENCH APPEND_FILE APPEND_FILE_STATIC LIBRARY

Sizes can be made smaller for a quick look: BENCH_BULK_MIB (1024), BENCH_SMALL_COUNT
(10000), BENCH_MANY_COUNT (100000), BENCH_STREAM_MIB (4096), BENCH_LINES_COUNT (100000),
BENCH_DIRECT_SECONDS (5); BENCH_REPEAT (5) runs of ours and of the loopback limits, taking turns,
of which the median is shown (at most 3 of the many-handle run, which takes longest). The rows
at LATENCY_MS run once each: their time is the round trips waited, which the machine's load
hardly moves.
"""

import base64
import contextlib
import hashlib
import hmac
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from email.utils import formatdate
from pathlib import Path

AK, SK, BUCKET = "bench-ak", "bench-secret", "bench"
BULK_MIB = int(os.environ.get("BENCH_BULK_MIB", 1024))
REQUEST_MIB = 8
SMALL_COUNT = int(os.environ.get("BENCH_SMALL_COUNT", 10000))
SMALL_SIZE = 4096
# Many appenders on one client, written from several threads: the shared connection pool.
MANY_HANDLES, MANY_THREADS = 64, 8
MANY_COUNT = int(os.environ.get("BENCH_MANY_COUNT", 100000))
STREAM_MIB = int(os.environ.get("BENCH_STREAM_MIB", 4096))
# On a link with LATENCY_MS of round trip: LINES_COUNT log lines of LINES_SIZE bytes, buffered,
# and the same lines one append each for DIRECT_SECONDS only (then extrapolated).
LATENCY_MS = 20
LINES_COUNT = int(os.environ.get("BENCH_LINES_COUNT", 100000))
LINES_SIZE = 100
DIRECT_SECONDS = float(os.environ.get("BENCH_DIRECT_SECONDS", 5))
# Our runs and the loopback limits are repeated (the SDKs, much slower, run once).
REPEAT = int(os.environ.get("BENCH_REPEAT", 5))
MANY_REPEAT = min(REPEAT, 3)
HERE = Path(__file__).resolve().parent
ENV = dict(os.environ, OSS_ACCESS_KEY_ID=AK, OSS_ACCESS_KEY_SECRET=SK)


class Run:
    """One process's figures, from its key=value line."""

    def __init__(self, line):
        self.fields = dict(item.split("=", 1) for item in line.split())

    def __getitem__(self, name):
        return float(self.fields[name])

    @property
    def cpu(self):
        return self["user"] + self["sys"]

    @property
    def mb_per_s(self):
        return self["bytes"] / self["seconds"] / 1e6

    @property
    def cpu_s_per_gib(self):
        return self.cpu / (self["bytes"] / (1 << 30))

    @property
    def ops_per_s(self):
        return self["operations"] / self["seconds"]

    @property
    def cpu_us_per_op(self):
        return self.cpu / self["operations"] * 1e6


def run(args):
    """Runs a measuring program to its end; its last stdout line holds the figures."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=ENV, text=True)
    out, err = proc.communicate()
    if proc.returncode:
        sys.exit(f"bench: {' '.join(map(str, args))} failed ({proc.returncode}): {err.strip()}")
    return out.strip().splitlines()[-1] if out.strip() else ""


def medians(*workloads, times=REPEAT):
    """Of each workload, the run of median wall time out of `times`: this machine's figures
    vary from run to run by tens of percent, more than the differences worth seeing. The
    workloads take turns, so that a figure and the limit it is compared with are measured in
    the same stretch of the machine's drift. A workload is a program's arguments, where a "{}"
    becomes a key of its own for each run, or a function that is given that key and returns
    the run's Run."""
    runs = [[] for _ in workloads]
    for i in range(times):
        for workload, done in zip(workloads, runs):
            key = f"run-{i}"
            done.append(workload(key) if callable(workload) else
                        Run(run([a.replace("{}", key) for a in map(str, workload)])))
    return [sorted(done, key=lambda r: r["seconds"])[len(done) // 2] for done in runs]


def server_stats(url):
    """What the local server counted (`GET /-/stats`): connections
    accepted and requests per operation. This request's own connection is counted too."""
    with urllib.request.urlopen(f"{url}/-/stats") as answer:
        lines = answer.read().decode().splitlines()
    return {name: int(n) for name, n in map(str.split, lines)}


def syscalls_per_append(append_bench, url, key):
    """System calls a small append makes, by name, from `strace -c`: the counts of a run of
    SMALL_COUNT appends less those of a run of half as many, over the appends between, so
    that start-up and the opening HEAD drop out."""
    def counts(n, run_key):
        out = Path(tempfile.mkstemp(prefix="oss-append-strace-")[1])
        try:
            run(["strace", "-f", "-qq", "-c", "-o", out, append_bench, "small", url, BUCKET,
                 run_key, str(n), str(SMALL_SIZE)])
            calls = {}
            for line in out.read_text().splitlines():
                fields = line.split()
                if len(fields) in (5, 6) and fields[-1] != "total" and fields[3].isdigit():
                    calls[fields[-1]] = int(fields[3])
            return calls
        finally:
            out.unlink()

    half = SMALL_COUNT // 2
    small, smaller = counts(SMALL_COUNT, f"{key}-full"), counts(half, f"{key}-half")
    per_append = {name: (n - smaller.get(name, 0)) / (SMALL_COUNT - half)
                  for name, n in small.items()}
    return {name: n for name, n in per_append.items() if n >= 0.05}


def syscall_row(label, calls):
    names = ", ".join(f"{name} {n:.1f}" for name, n in sorted(calls.items(), key=lambda c: -c[1]))
    total = sum(calls.values())
    return (label, f"{total:.1f} system calls/append", names, "",
            verdict(total <= 4.05 and not {"setsockopt", "ioctl"} & calls.keys(),
                    "<=4, no setsockopt or ioctl") if "https" not in label else "")


def peak_rss_kib(append_bench, args, mib):
    """Peak RSS of `args` reading `mib` MiB of generated input on stdin, and its output."""
    source = subprocess.Popen([append_bench, "generate", str(mib)], stdout=subprocess.PIPE)
    proc = subprocess.run([append_bench, "rss", *args], stdin=source.stdout,
                          capture_output=True, env=ENV, text=True)
    source.stdout.close()
    source.wait()
    if proc.returncode:
        sys.exit(f"bench: {' '.join(map(str, args))} failed: {proc.stderr.strip()}")
    *output, figures = proc.stdout.strip().splitlines()
    return Run(figures)["maxrss_kib"], output[-1]


def curl_upload(url, body, requests, key, cacert=None):
    """The same server's ingest from curl: `requests` signed appends of `body` to `key`, one
    connection (curl's --next keeps it); over https trusting `cacert`. curl's own wall and CPU
    time, by wait4."""
    args = ["curl"]
    size = body.stat().st_size
    for i in range(requests):
        date = formatdate(usegmt=True)
        resource = f"/{BUCKET}/{key}?append&position={i * size}"
        to_sign = f"POST\n\napplication/octet-stream\n{date}\n{resource}"
        signature = base64.b64encode(hmac.new(SK.encode(), to_sign.encode(), hashlib.sha1).digest())
        if i:
            args.append("--next")
        args += ["-sS", "--fail", "-o", "/dev/null", "-X", "POST", "-T", str(body),
                 "-H", f"Date: {date}", "-H", f"Authorization: OSS {AK}:{signature.decode()}",
                 "-H", "Content-Type: application/octet-stream", "-H", "Expect:",
                 *(["--cacert", str(cacert)] if cacert else []), url + resource]
    start = time.monotonic()
    proc = subprocess.Popen(args)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    if status:
        sys.exit("bench: curl's upload failed")
    return Run(f"bytes={size * requests} operations={requests} seconds={seconds} "
               f"user={usage.ru_utime} sys={usage.ru_stime}")


def curl_version():
    """curl's version and its TLS library's from `curl --version`: "curl 7.88.1, OpenSSL/3.0.19"."""
    words = subprocess.run(["curl", "--version"], capture_output=True, text=True,
                           check=True).stdout.split()
    ssl = next((w for w in words if w.split("/")[0] in ("OpenSSL", "GnuTLS", "BoringSSL",
                                                          "LibreSSL", "wolfSSL", "mbedTLS")), "?")
    return f"curl {words[1]}, {ssl}"


def certificate(work):
    """A self-signed certificate for 127.0.0.1 (a leaf: webpki refuses a CA certificate as the
    server's own) and its key, made with openssl as the tests make theirs."""
    cert, key = Path(work) / "cert.pem", Path(work) / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-addext", "basicConstraints=critical,CA:FALSE", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def needed(binary):
    """The shared libraries a binary names (readelf's NEEDED entries)."""
    dynamic = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True,
                             check=True).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in dynamic.splitlines() if "(NEEDED)" in line]


def stripped_size(path, work):
    copy = Path(work) / Path(path).name
    shutil.copy(path, copy)
    subprocess.run(["strip", "--strip-all", copy], check=True)
    return copy.stat().st_size


@contextlib.contextmanager
def local_server(server_bin, *flags):
    """A `--discard` oss-local-server with the bench's credentials and bucket, and `flags`;
    yields its URL, and is killed and waited for on the way out, failure or not."""
    server = subprocess.Popen([server_bin, "--discard", "--access-key-id", AK,
                               "--access-key-secret", SK, "--bucket", BUCKET, *flags],
                              stdout=subprocess.PIPE, text=True)
    try:
        yield server.stdout.readline().strip().removeprefix("listening on ")
    finally:
        server.kill()
        server.wait()


def main():
    server_bin, append_bench, append_file, append_file_static, library = sys.argv[1:]
    work = tempfile.mkdtemp(prefix="oss-append-bench-")
    try:
        cert, key = certificate(work)
        # append_bench's clients trust it (an http endpoint never reads it).
        ENV["APPEND_BENCH_CA_FILE"] = str(cert)
        with local_server(server_bin) as url, \
                local_server(server_bin, "--tls-cert", cert, "--tls-key", key) as tls_url:
            report(work, url, tls_url, cert, server_bin, append_bench, append_file,
                   append_file_static, library)
    finally:
        shutil.rmtree(work)


def report(work, url, tls_url, cert, server_bin, append_bench, append_file, append_file_static,
           library):
    body = Path(work) / "body.bin"
    body.write_bytes(os.urandom(REQUEST_MIB << 20))
    requests = BULK_MIB // REQUEST_MIB

    def bulk_args(key, endpoint=url):
        return [endpoint, BUCKET, key, str(BULK_MIB), str(REQUEST_MIB)]

    def small_args(key, endpoint=url):
        return [endpoint, BUCKET, key, str(SMALL_COUNT), str(SMALL_SIZE)]

    print(f"bench: oss-local-server --discard at {url}; bulk {BULK_MIB} MiB in {REQUEST_MIB} MiB "
          f"requests, small {SMALL_COUNT} x {SMALL_SIZE} B, many {MANY_COUNT} x {SMALL_SIZE} B on "
          f"{MANY_HANDLES} handles, stream {STREAM_MIB} MiB; bulk and small again over HTTPS at "
          f"{tls_url}; at {LATENCY_MS} ms RTT (a third server, --latency-ms): {LINES_COUNT:,} "
          f"lines of {LINES_SIZE} B, bulk again", flush=True)
    curl_name = curl_version()
    tcp, bulk, curl, bulk_tls, curl_tls = medians(
        [append_bench, "tcp", str(BULK_MIB)],
        [append_bench, "bulk", *bulk_args("bulk-{}")],
        lambda key: curl_upload(url, body, requests, f"curl-{key}"),
        [append_bench, "bulk", *bulk_args("tls-bulk-{}", tls_url)],
        lambda key: curl_upload(tls_url, body, requests, f"curl-{key}", cert))
    pingpong, small, small_tls = medians(
        [append_bench, "pingpong", str(SMALL_COUNT), str(SMALL_SIZE)],
        [append_bench, "small", *small_args("small-{}")],
        [append_bench, "small", *small_args("tls-small-{}", tls_url)])
    calls = syscalls_per_append(append_bench, url, "strace")
    calls_tls = syscalls_per_append(append_bench, tls_url, "strace-tls")
    before = server_stats(url)
    [many] = medians([append_bench, "many", url, BUCKET, "many-{}", MANY_HANDLES, MANY_THREADS,
                       MANY_COUNT, SMALL_SIZE], times=MANY_REPEAT)
    after = server_stats(url)
    # Less the second stats request's own connection.
    many_connections = after["connections"] - before["connections"] - 1
    many_appends = after["append"] - before["append"]
    sdk = {}
    for name in ("oss2", "v2", "v2-nocrc"):
        script = [sys.executable, HERE / "sdk_bench.py", name]
        sdk[name] = (Run(run([*script, "bulk", *bulk_args(f"{name}-bulk")])),
                     Run(run([*script, "small", *small_args(f"{name}-small")])))
    rss = {}
    for mib in sorted({STREAM_MIB // 4, STREAM_MIB}):
        kib, last = peak_rss_kib(append_bench, [append_file, "-e", url, "-r", "cn-hangzhou", "-",
                                                f"oss://{BUCKET}/stream-{mib}"], mib)
        if f"length={mib << 20}" not in last:
            sys.exit(f"bench: append_file did not store {mib} MiB: {last}")
        rss[mib] = kib
    with local_server(server_bin, "--latency-ms", str(LATENCY_MS)) as slow_url:
        slow = over_latency(slow_url, append_bench)
    so_size = stripped_size(library, work)
    static_size = stripped_size(append_file_static, work)
    static_needs = needed(append_file_static)

    # The targets compare with the faster SDK checking CRC-64, as oss-append does.
    checking = [sdk["oss2"], sdk["v2"]]
    best_bulk = max(checking, key=lambda r: r[0].mb_per_s)
    best_small = max(checking, key=lambda r: r[1].ops_per_s)
    rows = [
        ("loopback: plain TCP sender -> receiver", f"{tcp.mb_per_s:,.0f} MB/s",
         f"{tcp.cpu_s_per_gib:.3f} CPU s/GiB (sender)", "", ""),
        ("loopback: curl upload to the same server", f"{curl.mb_per_s:,.0f} MB/s",
         f"{curl.cpu_s_per_gib:.3f} CPU s/GiB (curl)", "", ""),
        ("bulk: oss-append (C API)", f"{bulk.mb_per_s:,.0f} MB/s",
         f"{bulk.cpu_s_per_gib:.3f} CPU s/GiB",
         f"{bulk.mb_per_s / tcp.mb_per_s:.0%} of TCP, {bulk.mb_per_s / curl.mb_per_s:.0%} of curl",
         verdict(bulk.mb_per_s >= 0.8 * curl.mb_per_s, ">=80% of curl to the same server") + "; "
         + verdict(bulk.cpu_s_per_gib <= 0.35, "<=0.35 CPU s/GiB")),
        (f"https: curl upload to the TLS server ({curl_name})", f"{curl_tls.mb_per_s:,.0f} MB/s",
         f"{curl_tls.cpu_s_per_gib:.3f} CPU s/GiB (curl)", "", ""),
        ("https: bulk, oss-append (C API)", f"{bulk_tls.mb_per_s:,.0f} MB/s",
         f"{bulk_tls.cpu_s_per_gib:.3f} CPU s/GiB",
         f"{curl_tls.cpu_s_per_gib / bulk_tls.cpu_s_per_gib:.2f}x lighter than curl, "
         f"{bulk_tls.mb_per_s / curl_tls.mb_per_s:.0%} of its rate; "
         f"{bulk_tls.cpu_s_per_gib / bulk.cpu_s_per_gib:.2f}x the CPU of plain HTTP",
         verdict(curl_tls.cpu_s_per_gib >= 1.5 * bulk_tls.cpu_s_per_gib,
                 ">=1.5x lighter than curl over the same TLS")),
    ]
    for name, (b, s) in sdk.items():
        rows.append((f"bulk: {label(name)}", f"{b.mb_per_s:,.0f} MB/s",
                     f"{b.cpu_s_per_gib:.3f} CPU s/GiB", f"ours {bulk.mb_per_s / b.mb_per_s:.1f}x",
                     verdict(bulk.mb_per_s >= 3 * b.mb_per_s, ">=3x the faster SDK")
                     if (b, s) == best_bulk else ""))
    rows.append(("loopback: plain TCP exchanges, 4 KiB / 300 B",
                 f"{pingpong.ops_per_s:,.0f} exchanges/s",
                 f"{pingpong.cpu_us_per_op:.1f} CPU us/exchange", "", ""))
    per_op = 1e6 / small["operations"]
    rows.append(("small: oss-append (C API)", f"{small.ops_per_s:,.0f} appends/s",
                 f"{small.cpu_us_per_op:.1f} CPU us/append (user {small['user'] * per_op:.1f}, "
                 f"system {small['sys'] * per_op:.1f})",
                 f"{small.cpu_us_per_op / pingpong.cpu_us_per_op:.2f}x the CPU of a TCP exchange",
                 verdict(small.ops_per_s >= 10000, ">=10,000/s") + "; "
                 + verdict(small.cpu_us_per_op <= 1.6 * pingpong.cpu_us_per_op,
                           "<=1.6x a TCP exchange's CPU")))
    rows.append(syscall_row("small: system calls per append (strace)", calls))
    rows.append(("https: small, oss-append (C API)", f"{small_tls.ops_per_s:,.0f} appends/s",
                 f"{small_tls.cpu_us_per_op:.1f} CPU us/append (user "
                 f"{small_tls['user'] * per_op:.1f}, system {small_tls['sys'] * per_op:.1f})",
                 f"{small_tls.cpu_us_per_op - small.cpu_us_per_op:+.1f} us, "
                 f"{small_tls.cpu_us_per_op / small.cpu_us_per_op:.2f}x plain HTTP's", ""))
    rows.append(syscall_row("https: small, system calls per append (strace)", calls_tls))
    for name, (b, s) in sdk.items():
        rows.append((f"small: {label(name)}", f"{s.ops_per_s:,.0f} appends/s",
                     f"{s.cpu_us_per_op:.1f} CPU us/append",
                     f"ours {small.ops_per_s / s.ops_per_s:.1f}x",
                     verdict(small.ops_per_s >= 10 * s.ops_per_s, ">=10x the faster SDK")
                     if (b, s) == best_small else ""))
    rows.append((f"many: oss-append (C API), {MANY_HANDLES} handles, {MANY_THREADS} threads",
                 f"{many.ops_per_s:,.0f} appends/s", f"{many.cpu_us_per_op:.1f} CPU us/append",
                 f"{many.ops_per_s / small.ops_per_s:.2f}x one handle", ""))
    rows.append((f"many: connections opened, {MANY_REPEAT} runs",
                 f"{many_connections:,} for {many_appends:,} appends", "", "", ""))
    for mib, kib in rss.items():
        rows.append((f"stream: append_file, {mib:,} MiB from stdin", f"{kib / 1024:.1f} MiB peak RSS",
                     "", "", verdict(kib <= 16 * 1024, "<=16 MiB") if mib == STREAM_MIB else ""))
    rows += latency_rows(slow, bulk)
    rows.append(("size: liboss_append.so, stripped", f"{so_size / 1024:,.0f} KiB", "", "", ""))
    rows.append(("size: append_file linked statically, stripped", f"{static_size / 1024:,.0f} KiB",
                 "needs " + ", ".join(static_needs), "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    header = ("workload", "speed", "cost", "ratio", "target")
    widths = [max(w, len(h)) for w, h in zip(widths, header)]
    for row in (header, tuple("-" * w for w in widths), *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def over_latency(url, append_bench):
    """The runs against the server at LATENCY_MS, once each (see the docstring): the buffered
    lines with what the server received for them, the direct lines, the bulk upload."""
    def lines(mode, *limit):
        return [append_bench, "lines", url, BUCKET, f"lines-{mode}", str(LINES_COUNT),
                str(LINES_SIZE), mode, *limit]

    before = server_stats(url)
    buffered = Run(run(lines("buffered")))
    after = server_stats(url)
    direct = Run(run(lines("direct", str(DIRECT_SECONDS))))
    bulk = Run(run([append_bench, "bulk", url, BUCKET, "slow-bulk", str(BULK_MIB),
                    str(REQUEST_MIB)]))
    return {"buffered": buffered, "direct": direct, "bulk": bulk,
            "appends": after["append"] - before["append"], "heads": after["head"] - before["head"],
            # Less the second stats request's own connection.
            "connections": after["connections"] - before["connections"] - 1}


def latency_rows(slow, loopback_bulk):
    buffered, direct, bulk = slow["buffered"], slow["direct"], slow["bulk"]
    rtt = f"{LATENCY_MS} ms RTT"

    def lines_speed(r):
        rate = f"{r.mb_per_s:,.1f} MB/s" if r.mb_per_s >= 1 else f"{r.mb_per_s * 1e3:,.1f} kB/s"
        return f"{r.ops_per_s:,.0f} lines/s, {rate}"

    done, took = int(direct["operations"]), direct["seconds"]
    all_lines = LINES_COUNT / direct.ops_per_s / 60
    return [
        (f"{rtt}: {LINES_COUNT:,} log lines of {LINES_SIZE} B, buffered", lines_speed(buffered),
         f"{slow['appends']:,} appends (+{slow['heads']} HEAD at open), {slow['connections']:,} "
         f"connection{'s' * (slow['connections'] != 1)} for {LINES_COUNT:,} lines",
         f"{buffered.ops_per_s / direct.ops_per_s:,.0f}x the lines/s of one append each", ""),
        (f"{rtt}: log lines, one append each (extrapolated from {done:,} lines in {took:.1f} s)",
         lines_speed(direct),
         f"{LINES_COUNT:,} appends; {LINES_COUNT:,} lines in ~{all_lines:,.0f} min",
         f"{took / done * 1e3:.1f} ms a line", ""),
        (f"{rtt}: bulk {BULK_MIB:,} MiB in {REQUEST_MIB} MiB appends", f"{bulk.mb_per_s:,.0f} MB/s",
         f"{bulk.cpu_s_per_gib:.3f} CPU s/GiB",
         f"{bulk.mb_per_s / loopback_bulk.mb_per_s:.0%} of loopback bulk", ""),
    ]


def label(sdk):
    return {"oss2": "oss2 2.19.1, CRC checked", "v2": "alibabacloud-oss-v2 1.4.1, CRC checked",
            "v2-nocrc": "alibabacloud-oss-v2 1.4.1, no CRC check"}[sdk]


def verdict(met, target):
    return f"{'met' if met else 'MISSED'}: {target}"


if __name__ == "__main__":
    main()
