using System;
using System.Runtime.InteropServices;

namespace OssAppend
{
    /// <summary>How requests are signed.</summary>
    public enum OssSignatureVersion
    {
        /// <summary>HMAC-SHA1 over the request: the classic OSS signature.</summary>
        V1 = 1,
        /// <summary>HMAC-SHA256 with a region-scoped key: the default.</summary>
        V4 = 4,
    }

    /// <summary>How a bucket is addressed.</summary>
    public enum OssUrlStyle
    {
        /// <summary><c>https://bucket.endpoint/key</c>: the default for host names.</summary>
        VirtualHosted = 1,
        /// <summary><c>https://endpoint/bucket/key</c>: the default for IP endpoints.</summary>
        Path = 2,
        /// <summary><c>https://endpoint/key</c>: the endpoint is a custom domain bound to the bucket.</summary>
        Cname = 3,
    }

    /// <summary>The level of a log line.</summary>
    public enum OssLogLevel
    {
        /// <summary>An operation failed for good (a buffered upload's error, kept for the next call).</summary>
        Error = 1,
        /// <summary>Something went wrong and is being mended: a retry, a recovery of an unknown outcome.</summary>
        Warn = 2,
        /// <summary>Worth knowing: the clock corrected from the server, credentials asked for again.</summary>
        Info = 3,
    }

    /// <summary>
    /// Receives one log line. Called from whichever thread sends requests (a buffered
    /// appender's upload thread too), so it must be thread-safe; lines never hold secrets.
    /// An exception it throws is dropped: it cannot travel through C and has nowhere to go.
    /// </summary>
    public delegate void OssLog(OssLogLevel level, string message);

    /// <summary>
    /// Settings for an <see cref="OssClient"/>; null and zero mean the library's defaults. Plain
    /// data, not thread-safe; the client copies what it needs, so it may be changed or reused
    /// once the client exists.
    /// </summary>
    public sealed class OssConfig
    {
        /// <summary>The endpoint: "oss-cn-hangzhou.aliyuncs.com", "https://host:port" or "http://host".</summary>
        public string Endpoint { get; set; }

        /// <summary>The region for V4 signing; read from an oss-&lt;region&gt;.aliyuncs.com endpoint when null.</summary>
        public string Region { get; set; }

        /// <summary>
        /// Static credentials when set; otherwise OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET and
        /// OSS_SESSION_TOKEN are read from the environment whenever needed. The library keeps the
        /// secret and token out of every message.
        /// </summary>
        public string AccessKeyId { get; set; }

        /// <summary>The AccessKey secret that goes with <see cref="AccessKeyId"/>.</summary>
        public string AccessKeySecret { get; set; }

        /// <summary>An STS security token, with <see cref="AccessKeyId"/>; null for a plain AccessKey.</summary>
        public string SecurityToken { get; set; }

        /// <summary>V4 (the default) or V1.</summary>
        public OssSignatureVersion? SignatureVersion { get; set; }

        /// <summary>Virtual-hosted by default; path style for IP endpoints.</summary>
        public OssUrlStyle? UrlStyle { get; set; }

        /// <summary>How long to wait for a connection (default 10 s).</summary>
        public TimeSpan? ConnectTimeout { get; set; }

        /// <summary>The longest one request may take, body included (default 60 s).</summary>
        public TimeSpan? RequestTimeout { get; set; }

        /// <summary>
        /// Tries per request in all, 1 for no retry; 0 keeps the library's 3. Appends whose outcome
        /// is unknown are settled before any retry, so a retry never duplicates data.
        /// </summary>
        public int MaxAttempts { get; set; }

        /// <summary>A retry waits a random time up to this, doubled per attempt (with MaxAttempts set; default 200 ms).</summary>
        public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

        /// <summary>The longest wait between tries (with MaxAttempts set; default 20 s).</summary>
        public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(20);

        /// <summary>A PEM file of CA certificates to trust instead of the bundled roots; read by the OssClient constructor.</summary>
        public string CaFile { get; set; }

        /// <summary>An HTTP CONNECT proxy, "http://[user:password@]host:port"; the password never appears in an error or log line.</summary>
        public string Proxy { get; set; }

        /// <summary>Printable ASCII added to the User-Agent after "oss-append/&lt;version&gt;".</summary>
        public string UserAgent { get; set; }

        /// <summary>Receives the library's log lines (retries, recoveries, errors); without it the library is silent.</summary>
        public OssLog Log { get; set; }

        internal ClientHandle NewClient()
        {
            using (var config = new ConfigHandle())
            {
                IntPtr err;
                Native.Set(config, Endpoint, "Endpoint", Native.oss_config_set_endpoint);
                Native.Set(config, Region, "Region", Native.oss_config_set_region);
                Native.Set(config, CaFile, "CaFile", Native.oss_config_set_ca_file);
                Native.Set(config, Proxy, "Proxy", Native.oss_config_set_proxy);
                Native.Set(config, UserAgent, "UserAgent", Native.oss_config_set_user_agent);
                Native.Check(AccessKeyId != null
                    ? Native.oss_config_set_credentials(config, Native.Utf8(AccessKeyId, "AccessKeyId"),
                        Native.Utf8(AccessKeySecret, "AccessKeySecret"), Native.Utf8(SecurityToken, "SecurityToken"), out err)
                    : Native.oss_config_set_credentials_from_env(config, out err), err);
                if (SignatureVersion.HasValue)
                {
                    Native.Check(Native.oss_config_set_signature_version(config, (int)SignatureVersion.Value, out err), err);
                }
                if (UrlStyle.HasValue)
                {
                    Native.Check(Native.oss_config_set_url_style(config, (int)UrlStyle.Value, out err), err);
                }
                if (ConnectTimeout.HasValue)
                {
                    Native.Check(Native.oss_config_set_connect_timeout_ms(config, Milliseconds(ConnectTimeout.Value), out err), err);
                }
                if (RequestTimeout.HasValue)
                {
                    Native.Check(Native.oss_config_set_request_timeout_ms(config, Milliseconds(RequestTimeout.Value), out err), err);
                }
                if (MaxAttempts != 0)
                {
                    Native.Check(Native.oss_config_set_retry(config, checked((uint)MaxAttempts), Milliseconds(RetryBaseDelay),
                        Milliseconds(RetryMaxDelay), out err), err);
                }
                if (Log != null)
                {
                    SetLog(config, Log);
                }
                IntPtr client;
                Native.Check(Native.oss_client_new(config, out client, out err), err);
                return new ClientHandle(client);
            }
        }

        internal static ulong Milliseconds(TimeSpan span)
        {
            if (span < TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException("span", "a time may not be negative");
            }
            return (ulong)span.TotalMilliseconds;
        }

        // Held in static fields so the delegates C calls are never collected.
        private static readonly LogFn LogThunk = OnLog;
        private static readonly FreeFn FreeThunk = OnFree;

        /// <summary>
        /// Hands the library a GCHandle to `log` as user_data; on success the library owns it and
        /// frees it through OnFree once the config and every client made from it are gone.
        /// </summary>
        private static void SetLog(ConfigHandle config, OssLog log)
        {
            var userData = GCHandle.Alloc(log);
            try
            {
                IntPtr err;
                Native.Check(Native.oss_config_set_log(config, LogThunk, GCHandle.ToIntPtr(userData), FreeThunk, out err), err);
            }
            catch
            {
                userData.Free();
                throw;
            }
        }

        [MonoPInvokeCallback(typeof(LogFn))]
        private static void OnLog(IntPtr userData, int level, IntPtr message)
        {
            try
            {
                ((OssLog)GCHandle.FromIntPtr(userData).Target)((OssLogLevel)level, Native.FromUtf8(message));
            }
            catch (Exception)
            {
                // Unwinding into C is undefined behaviour (IL2CPP aborts), and a log line has no
                // caller to report to.
            }
        }

        [MonoPInvokeCallback(typeof(FreeFn))]
        private static void OnFree(IntPtr userData)
        {
            GCHandle.FromIntPtr(userData).Free();
        }
    }

    /// <summary>What one AppendObject returned (<see cref="OssClient.AppendObject"/>). Plain data.</summary>
    public sealed class OssAppendResult
    {
        /// <summary>The object's length after the append: where the next one goes.</summary>
        public ulong NextPosition { get; internal set; }

        /// <summary>The CRC-64 of the whole object after the append, as the server computed it.</summary>
        public ulong Crc64 { get; internal set; }

        /// <summary>The object's ETag after the append; null when absent.</summary>
        public string ETag { get; internal set; }

        /// <summary>On a versioned bucket, the version the append made; null when absent.</summary>
        public string VersionId { get; internal set; }

        /// <summary>The request's x-oss-request-id; null when absent.</summary>
        public string RequestId { get; internal set; }

        /// <summary>Copies everything out of `result`, whose strings go when it is freed.</summary>
        internal static OssAppendResult Read(AppendResultHandle result)
        {
            return new OssAppendResult
            {
                NextPosition = Native.oss_append_result_next_position(result),
                Crc64 = Native.oss_append_result_crc64(result),
                ETag = Native.FromUtf8(Native.oss_append_result_etag(result)),
                VersionId = Native.FromUtf8(Native.oss_append_result_version_id(result)),
                RequestId = Native.FromUtf8(Native.oss_append_result_request_id(result)),
            };
        }
    }

    /// <summary>
    /// A connection to one OSS endpoint with one identity: a connection pool, a credentials cache
    /// and a clock correction, shared by every appender opened on it. The caller owns it and
    /// releases it with Dispose (or, failing that, the finalizer does). Thread-safe: any number
    /// of threads may use one client at once; a Dispose during their calls frees it once they
    /// end. Appenders keep what they need of it, so it may be disposed while they are open.
    /// </summary>
    public sealed class OssClient : IDisposable
    {
        private readonly ClientHandle handle;

        /// <summary>
        /// Makes a client from `config` (read, not kept). Nothing is sent over the network.
        /// Throws OssException (InvalidArgument) for a missing endpoint, a V4 region it cannot
        /// tell, a bad proxy or an unreadable CA file.
        /// </summary>
        public OssClient(OssConfig config)
        {
            if (config == null)
            {
                throw new ArgumentNullException("config");
            }
            handle = config.NewClient();
        }

        /// <summary>The running library's version, such as "0.1.0". Thread-safe.</summary>
        public static string Version
        {
            get { return Native.FromUtf8(Native.oss_version()); }
        }

        /// <summary>
        /// The running library's version as one number, major * 1000000 + minor * 1000 + patch
        /// (1.2.3 is 1002003): a binding runs on any library of its major version at least as
        /// new as the one it was written for. Thread-safe.
        /// </summary>
        public static uint VersionNumber
        {
            get { return Native.oss_version_number(); }
        }

        /// <summary>
        /// Opens oss://bucket/key for appending: an absent object is created by the first write
        /// (with the create parameters of `options`), an appendable one is continued at its end
        /// (one HEAD request), any other kind throws OssException (ObjectNotAppendable).
        /// `options` may be null for the defaults and is copied. The caller owns the appender.
        /// Thread-safe.
        /// </summary>
        public OssAppender OpenAppend(string bucket, string key, OssAppendOptions options = null)
        {
            handle.ThrowIfClosed("OssClient");
            return new OssAppender(handle, bucket, key, options ?? new OssAppendOptions());
        }

        /// <summary>
        /// Uploads every object's spool left in <paramref name="directory"/> by appenders that
        /// did not close (a game that crashed, a Dispose whose upload failed), each settled with
        /// its object as OpenAppend settles it (see <see cref="OssAppendOptions.SpoolDirectory"/>),
        /// then removes those spools: for a program that will not open those objects again (a
        /// crash reporter at the next start). A spool that cannot be drained is kept while the
        /// others are drained, and the first such error is thrown.
        /// </summary>
        public void DrainSpool(string directory)
        {
            handle.ThrowIfClosed("OssClient");
            IntPtr err;
            Native.Check(Native.oss_spool_drain(handle, Native.Utf8(directory, "directory"), out err), err);
        }

        /// <summary>
        /// One AppendObject request: appends buffer[offset .. offset + count) to oss://bucket/key
        /// at `position`, which must be the object's length (0 creates it, with the create
        /// parameters of `options`; its progress, buffering and rolling do not apply). Not
        /// retried when its outcome is unknown (a timeout, a lost connection, a 5xx): the caller
        /// owns the position. With `previousCrc64` (the object's CRC-64 before) the server's
        /// CRC-64 afterwards is checked. The data is only read during the call. Thread-safe.
        /// </summary>
        public OssAppendResult AppendObject(string bucket, string key, ulong position, byte[] buffer, int offset,
            int count, OssAppendOptions options = null, ulong? previousCrc64 = null)
        {
            handle.ThrowIfClosed("OssClient");
            int index;
            var data = Native.Range(buffer, offset, count, out index);
            IntPtr raw;
            using (var native = (options ?? new OssAppendOptions()).Build(default(GCHandle)))
            {
                IntPtr err;
                Native.Check(Native.oss_append_object(handle, Native.Utf8(bucket, "bucket"), Native.Utf8(key, "key"),
                    position, ref data[index], (UIntPtr)count, native,
                    previousCrc64.HasValue ? new[] { previousCrc64.Value } : null, out raw, out err), err);
            }
            using (var result = new AppendResultHandle(raw))
            {
                return OssAppendResult.Read(result);
            }
        }

        /// <summary>
        /// Releases the client. Disposing again does nothing; other members then throw
        /// ObjectDisposedException. Open appenders keep working.
        /// </summary>
        public void Dispose()
        {
            handle.Dispose();
        }
    }
}
