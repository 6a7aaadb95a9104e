// The C# binding against the local OSS server (OSS_LOCAL_SERVER, started here with faults
// enabled). What is stored is checked with the server's own GET, signed here, never by asking
// the binding. Prints one line per test and closes with "N passed, N failed"; exits non-zero
// on any failure.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using OssAppend;

internal static class OssAppendTests
{
    private const string AccessKeyId = "cs-ak";
    private const string AccessKeySecret = "cs-sk";
    private const string Bucket = "cs-test";
    private static string endpoint;

    private static int Main()
    {
        var binary = Environment.GetEnvironmentVariable("OSS_LOCAL_SERVER");
        if (string.IsNullOrEmpty(binary))
        {
            Console.Error.WriteLine("set OSS_LOCAL_SERVER to the oss-local-server binary (make test does)");
            return 2;
        }
        var start = new ProcessStartInfo(binary, string.Format(
            "--access-key-id {0} --access-key-secret {1} --bucket {2} --enable-faults", AccessKeyId, AccessKeySecret, Bucket))
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
        };
        using (var server = Process.Start(start))
        {
            endpoint = server.StandardOutput.ReadLine().Replace("listening on ", "");
            try
            {
                return Run();
            }
            finally
            {
                server.Kill();
                server.WaitForExit();
            }
        }
    }

    private static int Run()
    {
        var tests = new Dictionary<string, Action>
        {
            { "the library loaded is the one staged beside this program", LoadedLibraryIsStagedOne },
            { "the binding mirrors no C struct", AbiContract.NoStructMirrors },
            { "every DllImport has the header's signature and is exported", AbiContract.ImportsMatchTheHeader },
            { "the callback delegates have the header's signatures", AbiContract.CallbacksMatchTheHeader },
            { "the enums have the header's values", AbiContract.EnumsMatchTheHeader },
            { "create, then resume: each byte stored once, offsets honoured", CreateThenResume },
            { "AppendObject creates, and a wrong position is an error with its details", AppendObjectAndItsErrors },
            { "a wrong previous CRC-64 is a CRC mismatch", PreviousCrcIsChecked },
            { "buffered writes from a loop are held until flushed, then stored", BufferedWritesFromALoop },
            { "after a conflict, a buffered appender's pending bytes come back", PendingBytesComeBackAfterAConflict },
            { "a spool keeps what a Dispose could not upload, for the next open or a drain", SpoolKeepsWhatDisposeCouldNotUpload },
            { "a progress callback sees each request and can cancel", ProgressCancels },
            { "a progress callback that throws becomes the error's cause", ThrowingProgressIsAnError },
            { "progress with a buffer is refused", ProgressWithBufferIsRefused },
            { "the log callback hears a retry; its exception stays in C#", LogCallbackAndItsException },
            { "a bad secret is a signature mismatch without the secret", BadSecretIsSignatureMismatch },
            { "timeouts and retries are the configured ones", TimeoutsAndRetries },
            { "V1, path style, UTF-8 key, content type and metadata", V1PathStyleUtf8AndCreateParameters },
            { "credentials from the environment", CredentialsFromTheEnvironment },
            { "bad settings and names are refused", BadSettingsAreRefused },
            { "Stat reports the object", StatReportsTheObject },
            { "Stat gives back the content type and metadata the object was created with", StatGivesCreateParametersBack },
            { "a sealed object takes no more appends; Stat says since when", SealEndsAppends },
            { "disposing twice, and use after dispose", DisposeTwiceAndUseAfterDispose },
            { "threads sharing an appender are serialised", ThreadsAreSerialised },
            { "the finalizer releases an appender never disposed", FinalizerReleasesAppender },
            { "a rolling stream goes on in numbered objects, each reported once", RollingStream },
            { "a rolling stream rolls by age", RollingByAge },
            { "a buffered rolling stream ends its objects at write boundaries", BufferedRollingStream },
            { "a bad key template is refused at open", BadKeyTemplateIsRefused },
            { "ObjectFinished's exception is thrown by the call that finished the object", ThrowingObjectFinished },
        };
        int passed = 0, failed = 0;
        foreach (var test in tests)
        {
            try
            {
                test.Value();
                passed++;
                Console.WriteLine("ok   " + test.Key);
            }
            catch (Exception e)
            {
                failed++;
                Console.WriteLine("FAIL " + test.Key + ": " + e);
            }
        }
        Console.WriteLine("{0} passed, {1} failed", passed, failed);
        return failed == 0 ? 0 : 1;
    }

    // ---- Tests ----

    private static void LoadedLibraryIsStagedOne()
    {
        Expect(OssClient.Version.StartsWith("1."), "version " + OssClient.Version + " (the 1.x ABI)");
        var parts = OssClient.Version.Split('-')[0].Split('.').Select(uint.Parse).ToArray();
        Equal(parts[0] * 1000000 + parts[1] * 1000 + parts[2], OssClient.VersionNumber, "the version number of " + OssClient.Version);
        var here = Path.GetDirectoryName(typeof(OssAppendTests).Assembly.Location);
        var mapped = File.ReadAllLines("/proc/self/maps").Where(l => l.Contains("liboss_append.so")).ToList();
        Expect(mapped.Count > 0 && mapped.All(l => l.Contains(here + "/liboss_append.so")), string.Join("\n", mapped));
    }

    private static void CreateThenResume()
    {
        using (var client = NewClient())
        {
            var first = Pattern(50000, 1);
            var second = Pattern(20000, 2);
            using (var log = client.OpenAppend(Bucket, "create"))
            {
                Equal(0L, log.Position, "a new object's position");
                log.Write(first, 0, 30000);
                log.Write(first, 30000, 20000);
                log.Write(first, 0, 0);
            }
            using (var log = client.OpenAppend(Bucket, "create", new OssAppendOptions { RequestSize = 4096 }))
            {
                Equal(50000L, log.Position, "the resumed position");
                log.Write(second, 7, 10000);
                Equal(60000L, log.Position, "the position");
                Equal(Crc64(Concat(first, Slice(second, 7, 10000))), log.Crc64, "the CRC-64");
            }
            Same(Concat(first, Slice(second, 7, 10000)), Get("create"), "the object");
        }
    }

    private static void AppendObjectAndItsErrors()
    {
        using (var client = NewClient())
        {
            var hello = Encoding.ASCII.GetBytes("hello");
            var result = client.AppendObject(Bucket, "one-request", 0, hello, 0, 5);
            Equal(5UL, result.NextPosition, "next position");
            Equal(Crc64(hello), result.Crc64, "CRC-64");
            Equal(24, result.RequestId.Length, "request id length");
            Expect(result.ETag != null && result.ETag.StartsWith("\"") && result.ETag.Length > 2, "ETag " + result.ETag);
            Equal(null, result.VersionId, "version id on an unversioned bucket");
            var more = client.AppendObject(Bucket, "one-request", 5, hello, 0, 5, null, Crc64(hello));
            Expect(more.ETag != null && more.ETag != result.ETag, "a new ETag after the append: " + more.ETag);
            using (var log = client.OpenAppend(Bucket, "one-request"))
            {
                Equal(more.ETag, log.Stat().ETag, "the ETag the HEAD gives");
            }
            var e = Throws<OssException>(() => client.AppendObject(Bucket, "one-request", 3, hello, 1, 2));
            Equal(OssStatus.PositionNotEqualToLength, e.Status, "status");
            Equal("PositionNotEqualToLength", e.Code, "code");
            Equal(409, e.HttpStatus, "HTTP status");
            Equal((ulong?)10, e.NextPosition, "next position");
            Expect(!string.IsNullOrEmpty(e.RequestId) && !string.IsNullOrEmpty(e.Ec), "request id and EC: " + e.RequestId + " " + e.Ec);
            Expect(e.Message.Contains("PositionNotEqualToLength") && e.Message.Contains(e.RequestId), e.Message);
            Same(Concat(hello, hello), Get("one-request"), "the object");
        }
    }

    private static void PreviousCrcIsChecked()
    {
        using (var client = NewClient())
        {
            var hello = Encoding.ASCII.GetBytes("hello");
            client.AppendObject(Bucket, "previous-crc", 0, hello, 0, 5);
            var next = client.AppendObject(Bucket, "previous-crc", 5, hello, 0, 5, null, Crc64(hello));
            Equal(Crc64(Concat(hello, hello)), next.Crc64, "CRC-64 after the checked append");
            var e = Throws<OssException>(() => client.AppendObject(Bucket, "previous-crc", 10, hello, 0, 5, null, 12345));
            Equal(OssStatus.CrcMismatch, e.Status, "status");
        }
    }

    private static void BufferedWritesFromALoop()
    {
        using (var client = NewClient())
        {
            var options = new OssAppendOptions
            {
                RequestSize = 4096,
                BufferCapacity = 1 << 20,
                BufferMaxDelay = TimeSpan.FromMinutes(1),
            };
            var want = new MemoryStream();
            using (var log = client.OpenAppend(Bucket, "buffered", options))
            {
                var line = Encoding.UTF8.GetBytes("frame 00000 ✓\n");
                // Less than a request, and a minute before the delay sends it: all held.
                log.Write(line, 0, line.Length);
                want.Write(line, 0, line.Length);
                Equal((long)line.Length, log.Pending, "pending before any upload");
                for (var i = 1; i < 10000; i++)
                {
                    line = Encoding.UTF8.GetBytes(string.Format("frame {0:D5} ✓\n", i));
                    log.Write(line, 0, line.Length);
                    want.Write(line, 0, line.Length);
                }
                Equal(want.Length, log.Position, "the position counts bytes written");
                log.Flush();
                Equal(0L, log.Pending, "pending after Flush");
                Equal(Crc64(want.ToArray()), log.Crc64, "the CRC-64 after Flush");
            }
            Same(want.ToArray(), Get("buffered"), "the object");
        }
    }

    private static void PendingBytesComeBackAfterAConflict()
    {
        using (var client = NewClient())
        {
            // A minute's delay and less than a request: nothing uploads before Flush.
            var options = new OssAppendOptions { BufferCapacity = 1 << 16, BufferMaxDelay = TimeSpan.FromMinutes(1) };
            var log = client.OpenAppend(Bucket, "taken-back", options);
            var theirs = Pattern(3, 1);
            using (var other = client.OpenAppend(Bucket, "taken-back"))
            {
                other.Write(theirs, 0, theirs.Length);
                Equal(0, other.ReadPending(0, new byte[8], 0, 8), "an unbuffered appender's ReadPending");
                Equal(0, other.ReadAllPending().Length, "an unbuffered appender's ReadAllPending");
            }
            var writes = new[] { Pattern(100, 2), Pattern(1, 3), Pattern(5000, 4), Pattern(7, 5) };
            var want = writes.Aggregate(new byte[0], Concat);
            foreach (var write in writes)
            {
                log.Write(write, 0, write.Length);
            }
            Equal((long)want.Length, log.Pending, "pending before the flush");
            var e = Throws<OssException>(() => log.Flush());
            Equal(OssStatus.Conflict, e.Status, "the flush's status");
            Equal((long)want.Length, log.Pending, "pending after the conflict");
            Same(want, log.ReadAllPending(), "ReadAllPending");

            // At an offset across two writes, into the middle of a small buffer.
            var small = Enumerable.Repeat((byte)0xEE, 16).ToArray();
            Equal(10, log.ReadPending(95, small, 3, 10), "bytes copied at offset 95");
            Same(Slice(want, 95, 10), Slice(small, 3, 10), "the slice at offset 95");
            Expect(Slice(small, 0, 3).Concat(Slice(small, 13, 3)).All(b => b == 0xEE), "bytes outside the range untouched");
            Equal(4, log.ReadPending(want.Length - 4, small, 0, 16), "bytes copied near the end");
            Same(Slice(want, want.Length - 4, 4), Slice(small, 0, 4), "the last bytes");
            Equal(0, log.ReadPending(want.Length, small, 0, 16), "at the end");
            Equal(0, log.ReadPending(long.MaxValue, small, 0, 16), "far past the end");
            Equal(0, log.ReadPending(0, small, 16, 0), "into an empty range");
            Throws<ArgumentOutOfRangeException>(() => log.ReadPending(-1, small, 0, 1));
            Throws<ArgumentOutOfRangeException>(() => log.ReadPending(0, small, 10, 7));
            Throws<ArgumentOutOfRangeException>(() => log.ReadPending(0, small, -1, 1));
            Throws<ArgumentNullException>(() => log.ReadPending(0, null, 0, 0));
            Same(want, log.ReadAllPending(), "ReadAllPending again: the bytes stay buffered");

            // Disposing still fails the same way, and releases the appender with its bytes.
            Equal(OssStatus.Conflict, Throws<OssException>(() => log.Dispose()).Status, "Dispose after the conflict");
            Throws<ObjectDisposedException>(() => log.ReadPending(0, small, 0, 16));
            Throws<ObjectDisposedException>(() => log.ReadAllPending());
            Same(theirs, Get("taken-back"), "the object: the other writer's bytes only");
        }
    }

    private static void SpoolKeepsWhatDisposeCouldNotUpload()
    {
        var dir = Path.Combine(Path.GetTempPath(), "oss-append-cs-spool-" + Process.GetCurrentProcess().Id);
        using (var client = NewClient())
        {
            var options = new OssAppendOptions
            {
                BufferCapacity = 1 << 20,
                BufferMaxDelay = TimeSpan.FromMinutes(1),
                SpoolDirectory = dir,
            };
            var data = Pattern(5000, 3);
            foreach (var key in new[] { "spooled", "drained" })
            {
                var log = client.OpenAppend(Bucket, key, options);
                if (key == "spooled")
                {
                    var e = Throws<OssException>(() => client.OpenAppend(Bucket, key, options));
                    Equal(OssStatus.SpoolInUse, e.Status, "a second owner");
                }
                log.Write(data, 0, data.Length);
                // Every attempt the client allows fails: Dispose throws, and the bytes stay spooled.
                Fault("action=error&status=503&op=append&key=" + key + "&count=2");
                Equal(OssStatus.Unavailable, Throws<OssException>(() => log.Dispose()).Status, "Dispose");
            }
            using (var log = client.OpenAppend(Bucket, "spooled", options))
            {
                Equal(5000L, log.Position, "the position the spool resumes at");
                log.Write(data, 0, 10);
            }
            Same(Concat(data, Slice(data, 0, 10)), Get("spooled"), "the object resumed");
            client.DrainSpool(dir);
            Same(data, Get("drained"), "the object drained");
            Equal(0, Directory.GetFileSystemEntries(dir).Length, "files left in the spool directory");
            Directory.Delete(dir);
            var bad = new OssAppendOptions { SpoolDirectory = dir };
            Equal(OssStatus.InvalidArgument, Throws<OssException>(() => client.OpenAppend(Bucket, "k", bad)).Status,
                "a spool without a buffer");
        }
    }

    private static void ProgressCancels()
    {
        using (var client = NewClient())
        {
            var calls = new List<string>();
            var options = new OssAppendOptions
            {
                RequestSize = 1000,
                Progress = (increment, transferred, total) =>
                {
                    calls.Add(increment + "/" + transferred + "/" + total);
                    return calls.Count < 3;
                },
            };
            var data = Pattern(10000, 3);
            using (var log = client.OpenAppend(Bucket, "progress", options))
            {
                var e = Throws<OssException>(() => log.Write(data, 0, data.Length));
                Equal(OssStatus.Cancelled, e.Status, "status");
                Equal(null, e.InnerException, "the cause");
                Equal("1000/1000/10000 1000/2000/10000 1000/3000/10000", string.Join(" ", calls), "calls");
                Equal(3000L, log.Position, "position");
            }
            Same(Slice(data, 0, 3000), Get("progress"), "the object");
        }
    }

    private static void ThrowingProgressIsAnError()
    {
        using (var client = NewClient())
        {
            var thrown = new InvalidOperationException("the game loop is gone");
            var calls = 0;
            var options = new OssAppendOptions
            {
                RequestSize = 1000,
                Progress = (increment, transferred, total) =>
                {
                    if (++calls == 2)
                    {
                        throw thrown;
                    }
                    return true;
                },
            };
            var data = Pattern(5000, 4);
            using (var log = client.OpenAppend(Bucket, "progress-throws", options))
            {
                var e = Throws<OssException>(() => log.Write(data, 0, data.Length));
                Equal(OssStatus.Cancelled, e.Status, "status");
                Expect(ReferenceEquals(thrown, e.InnerException), "the cause is the exception thrown: " + e.InnerException);
                Expect(e.Message.Contains("the game loop is gone"), e.Message);
                Equal(2000L, log.Position, "position");
                // The appender is still usable, and the cause is not reported again.
                log.Write(data, 2000, 3000);
            }
            Same(data, Get("progress-throws"), "the object");
        }
    }

    private static void ProgressWithBufferIsRefused()
    {
        using (var client = NewClient())
        {
            var options = new OssAppendOptions { BufferCapacity = 4096, Progress = (i, t, n) => true };
            Throws<ArgumentException>(() => client.OpenAppend(Bucket, "progress-buffered", options));
        }
    }

    private static void LogCallbackAndItsException()
    {
        var lines = new List<string>();
        var config = Config();
        config.Log = (level, message) =>
        {
            lock (lines)
            {
                lines.Add(level + ": " + message);
            }
            throw new InvalidOperationException("a log sink that fails");
        };
        Fault("action=error&status=503&op=append&key=logged&count=1");
        using (var client = new OssClient(config))
        using (var log = client.OpenAppend(Bucket, "logged"))
        {
            log.Write(Pattern(100, 5), 0, 100);
        }
        Same(Pattern(100, 5), Get("logged"), "the object");
        lock (lines)
        {
            Expect(lines.Any(l => l.StartsWith("Warn: ") && l.Contains("503")), string.Join("\n", lines));
        }
    }

    private static void BadSecretIsSignatureMismatch()
    {
        var config = Config();
        config.AccessKeySecret = "not-the-secret";
        using (var client = new OssClient(config))
        {
            var e = Throws<OssException>(() => client.OpenAppend(Bucket, "denied"));
            Equal(OssStatus.SignatureMismatch, e.Status, "status");
            Equal("SignatureDoesNotMatch", e.Code, "code");
            Equal(403, e.HttpStatus, "HTTP status");
            Expect(!e.Message.Contains("not-the-secret"), "the secret is in the message: " + e.Message);
        }
    }

    private static void TimeoutsAndRetries()
    {
        var once = Config();
        once.MaxAttempts = 1;
        using (var client = new OssClient(once))
        {
            Fault("action=error&status=503&op=head&key=retry&count=1");
            var e = Throws<OssException>(() => client.OpenAppend(Bucket, "retry"));
            Equal(OssStatus.Unavailable, e.Status, "with one attempt, status");
            Equal(503, e.HttpStatus, "HTTP status");
        }
        var twice = Config();
        twice.MaxAttempts = 2;
        twice.RetryBaseDelay = TimeSpan.FromMilliseconds(1);
        using (var client = new OssClient(twice))
        {
            Fault("action=error&status=503&op=head&key=retry&count=1");
            client.OpenAppend(Bucket, "retry").Dispose();
            Equal("pending 0", FaultsPending(), "the fault was met, then retried");
        }
        var quick = Config();
        quick.MaxAttempts = 1;
        quick.RequestTimeout = TimeSpan.FromMilliseconds(300);
        using (var client = new OssClient(quick))
        {
            Fault("action=delay-before-apply&delay_ms=3000&op=head&key=slow&count=1");
            var clock = Stopwatch.StartNew();
            var e = Throws<OssException>(() => client.OpenAppend(Bucket, "slow"));
            Equal(OssStatus.Timeout, e.Status, "status");
            Expect(clock.ElapsedMilliseconds < 2500, "gave up after " + clock.ElapsedMilliseconds + " ms");
        }
    }

    private static void V1PathStyleUtf8AndCreateParameters()
    {
        var config = Config();
        config.SignatureVersion = OssSignatureVersion.V1;
        config.UrlStyle = OssUrlStyle.Path;
        config.UserAgent = "csharp-tests";
        const string key = "日志/über 1.log";
        var options = new OssAppendOptions { ContentType = "text/plain; charset=utf-8" };
        options.Metadata["player"] = "one";
        using (var client = new OssClient(config))
        using (var log = client.OpenAppend(Bucket, key, options))
        {
            var text = Encoding.UTF8.GetBytes("héllo wörld\n");
            log.Write(text, 0, text.Length);
            WebHeaderCollection headers;
            Same(text, Get(key, out headers), "the object");
            Equal("text/plain; charset=utf-8", headers["Content-Type"], "Content-Type");
            Equal("one", headers["x-oss-meta-player"], "metadata");
        }
    }

    private static void CredentialsFromTheEnvironment()
    {
        var config = Config();
        config.AccessKeyId = null;
        config.AccessKeySecret = null;
        using (var client = new OssClient(config))
        {
            var e = Throws<OssException>(() => client.OpenAppend(Bucket, "from-env"));
            Equal(OssStatus.CredentialsMissing, e.Status, "without the variables");
            Environment.SetEnvironmentVariable("OSS_ACCESS_KEY_ID", AccessKeyId);
            Environment.SetEnvironmentVariable("OSS_ACCESS_KEY_SECRET", AccessKeySecret);
            try
            {
                var data = Pattern(10, 6);
                Equal(10UL, client.AppendObject(Bucket, "from-env", 0, data, 0, 10).NextPosition, "with them");
            }
            finally
            {
                Environment.SetEnvironmentVariable("OSS_ACCESS_KEY_ID", null);
                Environment.SetEnvironmentVariable("OSS_ACCESS_KEY_SECRET", null);
            }
        }
    }

    private static void BadSettingsAreRefused()
    {
        var proxy = Config();
        proxy.Proxy = "ftp://proxy.example:21";
        Equal(OssStatus.InvalidArgument, Throws<OssException>(() => new OssClient(proxy)).Status, "an ftp proxy");
        var ca = Config();
        ca.CaFile = "/nonexistent/ca.pem";
        var e = Throws<OssException>(() => new OssClient(ca));
        Expect(e.Status == OssStatus.InvalidArgument && e.Message.Contains("/nonexistent/ca.pem"), e.Message);
        var agent = Config();
        agent.UserAgent = "line\r\nX-Injected: 1";
        Equal(OssStatus.InvalidArgument, Throws<OssException>(() => new OssClient(agent)).Status, "a user agent with a line break");
        using (var client = NewClient())
        {
            e = Throws<OssException>(() => client.OpenAppend("Bad_Bucket", "key"));
            Expect(e.Status == OssStatus.InvalidArgument && e.Message.Contains("Bad_Bucket"), e.Message);
            e = Throws<OssException>(() => client.OpenAppend(Bucket, "key", new OssAppendOptions { Acl = "everyone" }));
            Equal(OssStatus.InvalidArgument, e.Status, "an unknown ACL");
            Throws<ArgumentException>(() => client.OpenAppend(Bucket, "nul\0key"));
            using (var log = client.OpenAppend(Bucket, "ranges"))
            {
                Throws<ArgumentOutOfRangeException>(() => log.Write(new byte[10], 5, 6));
                Throws<ArgumentOutOfRangeException>(() => log.Write(new byte[10], -1, 1));
                Throws<ArgumentNullException>(() => log.Write(null, 0, 0));
                Throws<NotSupportedException>(() => log.Position = 0);
            }
        }
    }

    private static void StatReportsTheObject()
    {
        using (var client = NewClient())
        using (var log = client.OpenAppend(Bucket, "stat"))
        {
            Equal(OssStatus.NoSuchKey, Throws<OssException>(() => log.Stat()).Status, "before any write");
            var data = Pattern(12345, 7);
            log.Write(data, 0, data.Length);
            var info = log.Stat();
            Equal(12345UL, info.Length, "length");
            Equal((ulong?)Crc64(data), info.Crc64, "CRC-64");
            Equal(OssObjectType.Appendable, info.ObjectType, "type");
            Expect(info.ETag.StartsWith("\"") && info.ETag.Length > 2, "ETag " + info.ETag);
            Expect(info.LastModified.HasValue && Math.Abs((DateTimeOffset.UtcNow - info.LastModified.Value).TotalMinutes) < 5,
                "last modified " + info.LastModified);
            Equal(24, info.RequestId.Length, "request id length");
            Expect(info.SealedTime == null && info.VersionId == null, "not sealed, not versioned");
            Equal("application/octet-stream", info.ContentType, "the server's default content type");
            Equal(0, info.Metadata.Count, "metadata");
        }
    }

    private static void StatGivesCreateParametersBack()
    {
        var options = new OssAppendOptions { ContentType = "text/csv; charset=utf-8" };
        options.Metadata["Player"] = "one";
        options.Metadata["level.id_2-b"] = "3 of 10";
        options.Metadata["empty"] = "";
        using (var client = NewClient())
        {
            using (var log = client.OpenAppend(Bucket, "create-parameters", options))
            {
                log.Write(Pattern(10, 9), 0, 10);
                var info = log.Stat();
                Equal("text/csv; charset=utf-8", info.ContentType, "content type");
                // OSS stores names lowercased; the server's order is its own.
                Equal("empty=|level.id_2-b=3 of 10|player=one",
                    string.Join("|", info.Metadata.Select(m => m.Key + "=" + m.Value).OrderBy(m => m, StringComparer.Ordinal)),
                    "metadata");
            }
            // Create parameters go with the first append only: a resumed appender's differ, and
            // what Stat reports is still the object's own.
            var other = new OssAppendOptions { ContentType = "image/png" };
            other.Metadata["player"] = "two";
            using (var log = client.OpenAppend(Bucket, "create-parameters", other))
            {
                log.Write(Pattern(10, 9), 0, 10);
                var info = log.Stat();
                Equal("text/csv; charset=utf-8", info.ContentType, "content type after a resumed append");
                Equal("one", info.Metadata.Single(m => m.Key == "player").Value, "metadata after a resumed append");
            }
        }
    }

    private static void SealEndsAppends()
    {
        var options = new OssAppendOptions { BufferCapacity = 1 << 16, SealOnClose = true };
        using (var client = NewClient())
        {
            using (var log = client.OpenAppend(Bucket, "sealed", options))
            {
                var data = Pattern(1000, 3);
                log.Write(data, 0, data.Length);
                log.Flush();
                Equal(null, log.Stat().SealedTime, "the sealed time before the seal");
                // Whole seconds, as the header gives them.
                var before = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
                log.Seal();
                var after = DateTimeOffset.UtcNow;
                Equal(OssStatus.ObjectNotAppendable, Throws<OssException>(() => log.Write(data, 0, 1)).Status, "a write");
                var info = log.Stat();
                Equal(1000UL, info.Length, "length");
                Expect(info.SealedTime.HasValue && before <= info.SealedTime.Value && info.SealedTime.Value <= after,
                    "sealed time " + info.SealedTime + " between " + before + " and " + after);
                WebHeaderCollection headers;
                Get("sealed", out headers);
                Equal(DateTimeOffset.ParseExact(headers["x-oss-sealed-time"], "r", System.Globalization.CultureInfo.InvariantCulture),
                    info.SealedTime.Value, "the sealed time the server sent");
            }
            Equal(OssStatus.ObjectNotAppendable, Throws<OssException>(() => client.OpenAppend(Bucket, "sealed")).Status, "reopening");
        }
    }

    private static void DisposeTwiceAndUseAfterDispose()
    {
        var client = NewClient();
        var log = client.OpenAppend(Bucket, "disposed");
        client.Dispose();
        client.Dispose();
        Throws<ObjectDisposedException>(() => client.OpenAppend(Bucket, "after"));
        Throws<ObjectDisposedException>(() => client.AppendObject(Bucket, "after", 0, new byte[1], 0, 1));
        // An appender outlives its client.
        log.Write(Pattern(10, 8), 0, 10);
        log.Dispose();
        log.Dispose();
        log.Close();
        Expect(!log.CanWrite, "CanWrite after Dispose");
        Throws<ObjectDisposedException>(() => log.Write(new byte[1], 0, 1));
        Throws<ObjectDisposedException>(() => log.Flush());
        Throws<ObjectDisposedException>(() => Console.Write(log.Position));
        Throws<ObjectDisposedException>(() => Console.Write(log.Crc64));
        Throws<ObjectDisposedException>(() => Console.Write(log.Pending));
        Throws<ObjectDisposedException>(() => log.Stat());
        Same(Pattern(10, 8), Get("disposed"), "the object");
    }

    private static void ThreadsAreSerialised()
    {
        using (var client = NewClient())
        {
            var pieces = new[] { Enumerable.Repeat((byte)'a', 3000).ToArray(), Enumerable.Repeat((byte)'b', 3000).ToArray() };
            Exception failure = null;
            using (var log = client.OpenAppend(Bucket, "threads"))
            {
                var threads = pieces.Select(piece => new Thread(() =>
                {
                    try
                    {
                        for (var i = 0; i < 10; i++)
                        {
                            log.Write(piece, 0, piece.Length);
                        }
                    }
                    catch (Exception e)
                    {
                        failure = e;
                    }
                })).ToList();
                threads.ForEach(t => t.Start());
                threads.ForEach(t => t.Join());
            }
            Expect(failure == null, "a writer failed: " + failure);
            var stored = Get("threads");
            Equal(60000, stored.Length, "length");
            for (var at = 0; at < stored.Length; at += 3000)
            {
                Expect(pieces.Any(p => Slice(stored, at, 3000).SequenceEqual(p)), "a write was split or mixed at " + at);
            }
        }
    }

    // Set on another thread and only cleared on the test's, so no stale copy of the reference
    // on the test's stack can keep the appender alive.
    private static OssAppender abandoned;

    private static void FinalizerReleasesAppender()
    {
        var baseline = ConnectionsToServer();
        var thread = new Thread(() =>
        {
            using (var client = NewClient())
            {
                abandoned = client.OpenAppend(Bucket, "abandoned");
                abandoned.Write(new byte[3], 0, 3);
            }
        });
        thread.Start();
        thread.Join();
        // The appender keeps the disposed client's pooled connection until it is released.
        Equal(baseline + 1, ConnectionsToServer(), "connections held by the abandoned appender");
        abandoned = null;
        for (var i = 0; i < 20 && ConnectionsToServer() > baseline; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        Equal(baseline, ConnectionsToServer(), "connections after the finalizer ran");
    }

    private static OssAppendOptions Rolling(ulong size, TimeSpan age, List<string> finished)
    {
        return new OssAppendOptions
        {
            RollMaxObjectSize = size,
            RollMaxAge = age,
            ObjectFinished = (key, length, crc64) => finished.Add(key + " " + length + " " + crc64),
        };
    }

    private static void RollingStream()
    {
        var finished = new List<string>();
        var data = Pattern(51, 5);
        using (var client = NewClient())
        using (var log = client.OpenAppend(Bucket, "roll/part-{n}.log", Rolling(10, TimeSpan.FromHours(1), finished)))
        {
            var at = 0;
            foreach (var size in new[] { 6, 3, 5, 10, 2, 25 })
            {
                log.Write(data, at, size);
                at += size;
            }
            // Whole writes to each object, but for the one of 25 bytes, larger than an object.
            var lengths = new[] { 9, 5, 10, 10, 10 };
            var stream = new byte[0];
            var want = new List<string>();
            for (var i = 0; i < lengths.Length; i++)
            {
                var key = string.Format("roll/part-{0:D6}.log", i);
                var stored = Get(key);
                Equal(lengths[i], stored.Length, key + "'s length");
                want.Add(key + " " + stored.Length + " " + Crc64(stored));
                stream = Concat(stream, stored);
            }
            Equal(string.Join("\n", want), string.Join("\n", finished), "the objects finished");
            Equal("roll/part-000005.log", log.Key, "the current key");
            Equal(7L, log.Position, "the position in the current object");
            Equal(51L, log.StreamPosition, "the stream position");
            Same(data, Concat(stream, Get("roll/part-000005.log")), "the objects, in key order");
        }
        Equal(5, finished.Count, "objects finished once closed");
    }

    private static void BufferedRollingStream()
    {
        var data = Pattern(24, 3);
        using (var client = NewClient())
        {
            var options = new OssAppendOptions { RollMaxObjectSize = 10, BufferCapacity = 4096 };
            using (var log = client.OpenAppend(Bucket, "broll/part-{n}.log", options))
            {
                for (var at = 0; at < data.Length; at += 6)
                {
                    log.Write(data, at, 6);
                }
                log.Flush(TimeSpan.Zero);
                Equal("broll/part-000003.log", log.Key, "the current key");
                Equal(24L, log.StreamPosition, "the stream position");
            }
            var stream = new byte[0];
            for (var i = 0; i < 4; i++)
            {
                var stored = Get(string.Format("broll/part-{0:D6}.log", i));
                Equal(6, stored.Length, "object " + i + "'s length: whole writes only");
                stream = Concat(stream, stored);
            }
            Same(data, stream, "the objects, in key order");
            options.ObjectFinished = (key, length, crc64) => { };
            Throws<ArgumentException>(() => client.OpenAppend(Bucket, "broll/cb-{n}", options));
        }
    }

    private static void RollingByAge()
    {
        // The first append is held longer than the age limit, so the next write finds the object old.
        Fault("action=delay-before-apply&delay_ms=200&op=append&key=aged/000000&count=1");
        var finished = new List<string>();
        using (var client = NewClient())
        using (var log = client.OpenAppend(Bucket, "aged/{n}", Rolling(1 << 20, TimeSpan.FromMilliseconds(100), finished)))
        {
            var one = Encoding.ASCII.GetBytes("one\n");
            log.Write(one, 0, one.Length);
            log.Write(one, 0, one.Length);
            Equal("aged/000000 4 " + Crc64(one), string.Join("\n", finished), "the objects finished");
            Equal("aged/000001", log.Key, "the current key");
        }
    }

    private static void BadKeyTemplateIsRefused()
    {
        using (var client = NewClient())
        {
            foreach (var template in new[] { "roll/no-marker.log", "roll/{n}-{n}.log" })
            {
                var e = Throws<OssException>(() => client.OpenAppend(Bucket, template, Rolling(10, TimeSpan.Zero, new List<string>())));
                Expect(e.Status == OssStatus.InvalidArgument && e.Message.Contains(template), e.Message);
            }
            var negative = Rolling(10, TimeSpan.FromSeconds(-1), new List<string>());
            Throws<ArgumentOutOfRangeException>(() => client.OpenAppend(Bucket, "roll/{n}", negative));
            // Without rolling, the key is the one given and the stream is the object.
            using (var plain = client.OpenAppend(Bucket, "roll/{n}"))
            {
                plain.Write(Pattern(5, 1), 0, 5);
                Equal("roll/{n}", plain.Key, "the key");
                Equal(5L, plain.StreamPosition, "the stream position");
            }
        }
    }

    private static void ThrowingObjectFinished()
    {
        var options = new OssAppendOptions
        {
            RollMaxObjectSize = 4,
            SealOnClose = true,
            ObjectFinished = (key, length, crc64) => { throw new InvalidOperationException(key); },
        };
        var data = Pattern(9, 6);
        using (var client = NewClient())
        {
            var log = client.OpenAppend(Bucket, "roll-throws/{n}", options);
            log.Write(data, 0, 3);
            var e = Throws<InvalidOperationException>(() => log.Write(data, 3, 3));
            Equal("roll-throws/000000", e.Message, "the write's exception");
            // The write was done when it threw, and the exception is not thrown again.
            Equal(6L, log.StreamPosition, "the stream position");
            Same(Slice(data, 3, 3), Get("roll-throws/000001"), "the second object");
            Equal("roll-throws/000001", Throws<InvalidOperationException>(() => log.Seal()).Message, "the seal's exception");
            log.Write(data, 6, 3);
            Equal("roll-throws/000002", Throws<InvalidOperationException>(() => log.Dispose()).Message, "the dispose's exception");
            Expect(!log.CanWrite, "released by the Dispose that threw");
            Same(Slice(data, 6, 3), Get("roll-throws/000002"), "the third object");
        }
    }

    // ---- Helpers ----

    private static OssConfig Config()
    {
        return new OssConfig
        {
            Endpoint = endpoint,
            Region = "cn-hangzhou",
            AccessKeyId = AccessKeyId,
            AccessKeySecret = AccessKeySecret,
            MaxAttempts = 2,
        };
    }

    private static OssClient NewClient()
    {
        return new OssClient(Config());
    }

    /// <summary>The object's bytes, by a GET this program signs (V1) and sends itself.</summary>
    private static byte[] Get(string key)
    {
        WebHeaderCollection headers;
        return Get(key, out headers);
    }

    private static byte[] Get(string key, out WebHeaderCollection headers)
    {
        var now = DateTime.UtcNow;
        string signature;
        using (var mac = new HMACSHA1(Encoding.UTF8.GetBytes(AccessKeySecret)))
        {
            var signed = string.Format("GET\n\n\n{0:r}\n/{1}/{2}", now, Bucket, key);
            signature = Convert.ToBase64String(mac.ComputeHash(Encoding.UTF8.GetBytes(signed)));
        }
        var request = Request("GET", "/" + Bucket + "/" + Uri.EscapeDataString(key).Replace("%2F", "/"));
        request.Date = now;
        request.Headers["Authorization"] = "OSS " + AccessKeyId + ":" + signature;
        return Send(request, out headers);
    }

    /// <summary>Scripts a fault on the server (POST /-/faults).</summary>
    private static void Fault(string query)
    {
        var request = Request("POST", "/-/faults?" + query);
        request.ContentLength = 0;
        WebHeaderCollection headers;
        Send(request, out headers);
    }

    /// <summary>The server's count of requests still to be faulted ("pending N").</summary>
    private static string FaultsPending()
    {
        WebHeaderCollection headers;
        return Encoding.ASCII.GetString(Send(Request("GET", "/-/faults"), out headers)).Trim();
    }

    /// <summary>
    /// A request of this program's own to the server, on a connection closed after it, so
    /// that every connection left open to the server is the library's.
    /// </summary>
    private static HttpWebRequest Request(string method, string pathAndQuery)
    {
        var request = (HttpWebRequest)WebRequest.Create(endpoint + pathAndQuery);
        request.Method = method;
        request.KeepAlive = false;
        return request;
    }

    private static byte[] Send(HttpWebRequest request, out WebHeaderCollection headers)
    {
        using (var response = (HttpWebResponse)request.GetResponse())
        using (var body = new MemoryStream())
        {
            response.GetResponseStream().CopyTo(body);
            headers = response.Headers;
            return body.ToArray();
        }
    }

    /// <summary>Established connections to the server (from /proc/net/tcp), all the library's.</summary>
    private static int ConnectionsToServer()
    {
        var port = ":" + new Uri(endpoint).Port.ToString("X4");
        return File.ReadAllLines("/proc/net/tcp").Skip(1)
            .Select(line => line.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries))
            .Count(fields => fields[2].EndsWith(port) && fields[3] == "01");
    }

    /// <summary>CRC-64/XZ (ECMA-182 reflected), as OSS reports it, computed bit by bit.</summary>
    private static ulong Crc64(byte[] data)
    {
        var crc = ulong.MaxValue;
        foreach (var b in data)
        {
            crc ^= b;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc >> 1) ^ ((crc & 1) == 1 ? 0xC96C5795D7870F42UL : 0);
            }
        }
        return ~crc;
    }

    private static byte[] Pattern(int length, int seed)
    {
        var data = new byte[length];
        for (var i = 0; i < length; i++)
        {
            data[i] = (byte)(i * 7 + seed);
        }
        return data;
    }

    private static byte[] Slice(byte[] data, int offset, int count)
    {
        return data.Skip(offset).Take(count).ToArray();
    }

    private static byte[] Concat(byte[] a, byte[] b)
    {
        return a.Concat(b).ToArray();
    }

    private static void Expect(bool condition, string what)
    {
        if (!condition)
        {
            throw new Exception("expected: " + what);
        }
    }

    private static void Equal<T>(T want, T got, string what)
    {
        Expect(EqualityComparer<T>.Default.Equals(want, got), what + ": want " + want + ", got " + got);
    }

    private static void Same(byte[] want, byte[] got, string what)
    {
        Expect(want.SequenceEqual(got), what + ": " + got.Length + " bytes differ from the " + want.Length + " wanted");
    }

    private static T Throws<T>(Action action) where T : Exception
    {
        try
        {
            action();
        }
        catch (T e)
        {
            return e;
        }
        catch (Exception e)
        {
            throw new Exception("expected " + typeof(T).Name + ", got " + e.GetType().Name + ": " + e.Message, e);
        }
        throw new Exception("expected " + typeof(T).Name + ", nothing was thrown");
    }
}
