using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Text;

namespace OssAppend
{
    /// <summary>
    /// Called after each request that landed: `increment` bytes just stored, `transferred` so
    /// far in this call, `total` the call's size. Never goes backwards, even across retries.
    /// Return false to stop: the call throws OssException (Cancelled), keeping what was stored.
    /// Runs on the writing thread, inside the write. An exception it throws stops the write the
    /// same way and becomes the OssException's InnerException: it never unwinds through C.
    /// </summary>
    public delegate bool OssProgress(ulong increment, ulong transferred, long total);

    /// <summary>
    /// Called once for each object a rolling stream finished (see
    /// <see cref="OssAppendOptions.RollMaxObjectSize"/>), after its last append (and seal, with
    /// SealOnClose) landed: its key, and the length and CRC-64 the server confirmed. Runs on the
    /// writing thread, inside the Write, Seal or Dispose that finished the object. An exception
    /// it throws cannot stop what is already stored: that call throws it once it has done its
    /// work (or, should it fail, as its OssException's InnerException).
    /// </summary>
    public delegate void OssObjectFinished(string key, ulong length, ulong crc64);

    /// <summary>
    /// How an appender writes, and what a new object is created with: null and zero mean the
    /// library's defaults. Plain data, not thread-safe; opening copies it, so it may be changed
    /// or reused for many appenders afterwards.
    /// </summary>
    public sealed class OssAppendOptions
    {
        /// <summary>Content-Type of a new object, such as "text/plain".</summary>
        public string ContentType { get; set; }

        /// <summary>Cache-Control of a new object.</summary>
        public string CacheControl { get; set; }

        /// <summary>Content-Disposition of a new object.</summary>
        public string ContentDisposition { get; set; }

        /// <summary>Content-Encoding of a new object.</summary>
        public string ContentEncoding { get; set; }

        /// <summary>Expires of a new object, an HTTP date.</summary>
        public string Expires { get; set; }

        /// <summary>A new object's ACL: "private", "public-read", "public-read-write" or "default".</summary>
        public string Acl { get; set; }

        /// <summary>A new object's storage class: "Standard", "IA", "Archive", "ColdArchive" or "DeepColdArchive".</summary>
        public string StorageClass { get; set; }

        /// <summary>A new object's tags, URL-encoded: "k1=v1&amp;k2=v2".</summary>
        public string Tagging { get; set; }

        /// <summary>x-oss-request-payer on every append, "requester" for requester-pays buckets.</summary>
        public string RequestPayer { get; set; }

        /// <summary>User metadata x-oss-meta-&lt;name&gt; of a new object (names: letters, digits, '-', '_', '.').</summary>
        public IDictionary<string, string> Metadata { get; } = new Dictionary<string, string>();

        /// <summary>A bandwidth limit for every append in bit/s, 819200 to 838860800; 0 for none.</summary>
        public ulong TrafficLimit { get; set; }

        /// <summary>Whether to check the server's CRC-64 of the whole object after every append (default true).</summary>
        public bool CheckCrc { get; set; } = true;

        /// <summary>Whether Close and Dispose seal the object (see <see cref="OssAppender.Seal"/>; default false).</summary>
        public bool SealOnClose { get; set; }

        /// <summary>The largest body of one request in bytes; 0 keeps the library's 8 MiB.</summary>
        public int RequestSize { get; set; }

        /// <summary>
        /// Buffered mode when above 0: Write copies into a buffer of this many bytes and returns,
        /// and a background thread uploads it in requests of up to RequestSize.
        /// </summary>
        public int BufferCapacity { get; set; }

        /// <summary>Buffered: a shorter request is sent once a byte has waited this long (default 1 s).</summary>
        public TimeSpan BufferMaxDelay { get; set; } = TimeSpan.FromSeconds(1);

        /// <summary>Buffered: a write into a full buffer waits for room (true, the default) or throws WouldBlock taking nothing.</summary>
        public bool BlockWhenFull { get; set; } = true;

        /// <summary>
        /// Buffered: keeps the bytes not stored yet in files under this directory (made if
        /// missing) instead of memory, so that a crash of the game loses none that a Write
        /// returned for: the next OpenAppend of the object with the same directory uploads them
        /// first (once the object's length and CRC-64 show they continue it; Conflict
        /// otherwise, the spool kept), or <see cref="OssClient.DrainSpool"/> does. BufferCapacity
        /// is then the spool's size on disk. A disk that refuses a write throws SpoolIO, taking
        /// nothing; a second appender on the spool, SpoolInUse. Null (the default): no spool.
        /// </summary>
        public string SpoolDirectory { get; set; }

        /// <summary>With a spool: when its bytes are forced to disk (default <see cref="OssSpoolSync.EveryWrite"/>).</summary>
        public OssSpoolSync SpoolSync { get; set; } = OssSpoolSync.EveryWrite;

        /// <summary>With <see cref="OssSpoolSync.Interval"/>: the most time between syncs (default 100 ms).</summary>
        public TimeSpan SpoolSyncInterval { get; set; } = TimeSpan.FromMilliseconds(100);

        /// <summary>
        /// Called after each request that landed (see <see cref="OssProgress"/>), on the writing
        /// thread. Unbuffered only in this binding: a buffered appender would call it on the
        /// library's own upload thread, where a Unity script may not call Unity's API.
        /// </summary>
        public OssProgress Progress { get; set; }

        /// <summary>
        /// Rolling when above 0: the key is then a template holding "{n}" once, and the stream goes
        /// on in the next numbered object (zero-padded to 6 digits, so keys sort in stream order)
        /// before a write that would take the current one past this many bytes (up to 5 GiB; only
        /// a write larger than that is split). Open continues the highest-numbered object when it
        /// takes more, else starts the next number; a template without exactly one "{n}" throws
        /// OssException (InvalidArgument). Buffered too (objects still end at write boundaries),
        /// but not spooled. Position, Crc64 and Stat then tell of the current object,
        /// <see cref="OssAppender.Key"/> which one it is (buffered: the one the upload is at),
        /// and <see cref="OssAppender.StreamPosition"/> of the whole stream.
        /// </summary>
        public ulong RollMaxObjectSize { get; set; }

        /// <summary>Rolling: the stream also goes on in the next object before the first write after the current one was written to for this long; zero (the default) for no age limit.</summary>
        public TimeSpan RollMaxAge { get; set; }

        /// <summary>
        /// Rolling: called for each object finished (see <see cref="OssObjectFinished"/>), on the
        /// writing thread. Unbuffered only in this binding, as Progress is: a buffered stream
        /// would call it on the library's upload thread.
        /// </summary>
        public OssObjectFinished ObjectFinished { get; set; }

        /// <summary>Native options with these settings; `callbacks` is the user_data of the progress and roll callbacks.</summary>
        internal OptionsHandle Build(GCHandle callbacks)
        {
            if (Progress != null && BufferCapacity > 0)
            {
                throw new ArgumentException("Progress is for unbuffered appenders (BufferCapacity 0)");
            }
            if (ObjectFinished != null && BufferCapacity > 0)
            {
                throw new ArgumentException("ObjectFinished is for unbuffered appenders (BufferCapacity 0)");
            }
            var options = new OptionsHandle();
            try
            {
                IntPtr err;
                Native.Set(options, ContentType, "ContentType", Native.oss_append_options_set_content_type);
                Native.Set(options, CacheControl, "CacheControl", Native.oss_append_options_set_cache_control);
                Native.Set(options, ContentDisposition, "ContentDisposition", Native.oss_append_options_set_content_disposition);
                Native.Set(options, ContentEncoding, "ContentEncoding", Native.oss_append_options_set_content_encoding);
                Native.Set(options, Expires, "Expires", Native.oss_append_options_set_expires);
                Native.Set(options, Acl, "Acl", Native.oss_append_options_set_acl);
                Native.Set(options, StorageClass, "StorageClass", Native.oss_append_options_set_storage_class);
                Native.Set(options, Tagging, "Tagging", Native.oss_append_options_set_tagging);
                Native.Set(options, RequestPayer, "RequestPayer", Native.oss_append_options_set_request_payer);
                foreach (var entry in Metadata)
                {
                    Native.Check(Native.oss_append_options_add_metadata(options, Native.Utf8(entry.Key, "Metadata"),
                        Native.Utf8(entry.Value, "Metadata"), out err), err);
                }
                if (TrafficLimit != 0)
                {
                    Native.Check(Native.oss_append_options_set_traffic_limit(options, TrafficLimit, out err), err);
                }
                Native.Check(Native.oss_append_options_set_check_crc(options, CheckCrc, out err), err);
                Native.Check(Native.oss_append_options_set_seal_on_close(options, SealOnClose, out err), err);
                if (RequestSize != 0)
                {
                    Native.Check(Native.oss_append_options_set_request_size(options, Size(RequestSize, "RequestSize"), out err), err);
                }
                if (BufferCapacity != 0)
                {
                    Native.Check(Native.oss_append_options_set_buffer(options, Size(BufferCapacity, "BufferCapacity"),
                        OssConfig.Milliseconds(BufferMaxDelay), BlockWhenFull, out err), err);
                }
                if (SpoolDirectory != null)
                {
                    var interval = OssConfig.Milliseconds(SpoolSyncInterval);
                    if (interval > uint.MaxValue)
                    {
                        throw new ArgumentOutOfRangeException("SpoolSyncInterval", "at most 2^32 - 1 ms");
                    }
                    Native.Check(Native.oss_append_options_set_spool(options, Native.Utf8(SpoolDirectory, "SpoolDirectory"),
                        (int)SpoolSync, (uint)interval, out err), err);
                }
                if (RollMaxObjectSize != 0)
                {
                    Native.Check(Native.oss_append_options_set_roll(options, RollMaxObjectSize,
                        OssConfig.Milliseconds(RollMaxAge), out err), err);
                }
                if (callbacks.IsAllocated && Progress != null)
                {
                    Native.Check(Native.oss_append_options_set_progress(options, ProgressThunk, GCHandle.ToIntPtr(callbacks), out err), err);
                }
                if (callbacks.IsAllocated && ObjectFinished != null)
                {
                    Native.Check(Native.oss_append_options_set_roll_callback(options, RollThunk, GCHandle.ToIntPtr(callbacks), out err), err);
                }
                return options;
            }
            catch
            {
                options.Dispose();
                throw;
            }
        }

        private static UIntPtr Size(int value, string name)
        {
            if (value < 0)
            {
                throw new ArgumentOutOfRangeException(name, "may not be negative");
            }
            return (UIntPtr)value;
        }

        // Held in static fields so the delegates C calls are never collected.
        private static readonly ProgressFn ProgressThunk = OnProgress;
        private static readonly RollFn RollThunk = OnRoll;

        [MonoPInvokeCallback(typeof(ProgressFn))]
        private static bool OnProgress(IntPtr userData, ulong increment, ulong transferred, long total)
        {
            // Alive: the appender making this call holds it.
            var state = (CallbackState)GCHandle.FromIntPtr(userData).Target;
            try
            {
                return state.Progress(increment, transferred, total);
            }
            catch (Exception e)
            {
                // Unwinding into C is undefined behaviour (IL2CPP aborts): the write stops
                // instead, and the appender throws this as the cause.
                state.Thrown = e;
                return false;
            }
        }

        [MonoPInvokeCallback(typeof(RollFn))]
        private static void OnRoll(IntPtr userData, IntPtr finishedKey, ulong length, ulong crc64)
        {
            var state = (CallbackState)GCHandle.FromIntPtr(userData).Target;
            try
            {
                state.ObjectFinished(Native.FromUtf8(finishedKey), length, crc64);
            }
            catch (Exception e)
            {
                // Not into C (see OnProgress); the first is kept, as one write may finish several objects.
                if (state.Thrown == null)
                {
                    state.Thrown = e;
                }
            }
        }
    }

    /// <summary>When a spool's bytes are forced to disk (<see cref="OssAppendOptions.SpoolSync"/>).</summary>
    public enum OssSpoolSync
    {
        /// <summary>Never: the system writes them back when it likes. A crash of the game loses no acknowledged write; a power cut may.</summary>
        None = 0,
        /// <summary>At most every SpoolSyncInterval: a power cut loses at most about that much of the latest writes.</summary>
        Interval = 1,
        /// <summary>Before each Write returns: a power cut loses no acknowledged write.</summary>
        EveryWrite = 2,
    }

    /// <summary>What the progress and roll callbacks' user_data leads to, and what they threw.</summary>
    internal sealed class CallbackState
    {
        internal OssProgress Progress;
        internal OssObjectFinished ObjectFinished;
        internal Exception Thrown;
    }

    /// <summary>What kind of object OSS says it is.</summary>
    public enum OssObjectType
    {
        /// <summary>Made by appends.</summary>
        Appendable = 1,
        /// <summary>Made by PutObject.</summary>
        Normal = 2,
        /// <summary>Made by a multipart upload.</summary>
        Multipart = 3,
        /// <summary>Anything else.</summary>
        Other = 4,
    }

    /// <summary>An object as the server described it (<see cref="OssAppender.Stat"/>). Plain data.</summary>
    public sealed class OssObjectInfo
    {
        /// <summary>The object's length in bytes.</summary>
        public ulong Length { get; internal set; }

        /// <summary>The CRC-64 of the whole object; null when the server did not say.</summary>
        public ulong? Crc64 { get; internal set; }

        /// <summary>What kind of object it is.</summary>
        public OssObjectType ObjectType { get; internal set; }

        /// <summary>When it was last modified; null when the server did not say.</summary>
        public DateTimeOffset? LastModified { get; internal set; }

        /// <summary>When the object was sealed; null while it is not.</summary>
        public DateTimeOffset? SealedTime { get; internal set; }

        /// <summary>The ETag, quotes included as OSS sends it; null when absent.</summary>
        public string ETag { get; internal set; }

        /// <summary>The object's Content-Type; null when absent.</summary>
        public string ContentType { get; internal set; }

        /// <summary>
        /// User metadata (x-oss-meta-*) in the order the server sent it: names without the
        /// prefix, lowercase as OSS stores them. A list rather than a dictionary because a name
        /// may come more than once (names that differ only in case are one name to OSS).
        /// </summary>
        public IReadOnlyList<KeyValuePair<string, string>> Metadata { get; internal set; }

        /// <summary>On a versioned bucket, the version the HEAD described; null when absent.</summary>
        public string VersionId { get; internal set; }

        /// <summary>The HEAD request's x-oss-request-id; null when absent.</summary>
        public string RequestId { get; internal set; }

        /// <summary>Copies everything out of `info`, whose strings go when it is freed.</summary>
        internal static OssObjectInfo Read(ObjectInfoHandle info)
        {
            ulong crc64;
            var hasCrc64 = Native.oss_object_info_crc64(info, out crc64);
            var count = (ulong)Native.oss_object_info_metadata_count(info);
            var metadata = new List<KeyValuePair<string, string>>();
            for (ulong index = 0; index < count; index++)
            {
                IntPtr name, value;
                // False only past the end, which the count rules out; then name and value are unset.
                if (Native.oss_object_info_metadata(info, (UIntPtr)index, out name, out value))
                {
                    metadata.Add(new KeyValuePair<string, string>(Native.FromUtf8(name), Native.FromUtf8(value)));
                }
            }
            return new OssObjectInfo
            {
                Length = Native.oss_object_info_length(info),
                Crc64 = hasCrc64 ? crc64 : (ulong?)null,
                ObjectType = Native.oss_object_info_type(info),
                LastModified = Native.FromSeconds(Native.oss_object_info_last_modified(info)),
                SealedTime = Native.FromSeconds(Native.oss_object_info_sealed_time(info)),
                ETag = Native.FromUtf8(Native.oss_object_info_etag(info)),
                ContentType = Native.FromUtf8(Native.oss_object_info_content_type(info)),
                Metadata = metadata.AsReadOnly(),
                VersionId = Native.FromUtf8(Native.oss_object_info_version_id(info)),
                RequestId = Native.FromUtf8(Native.oss_object_info_request_id(info)),
            };
        }
    }

    /// <summary>
    /// An open appendable object, written as a write-only Stream: every byte goes to its end,
    /// exactly once. Made by <see cref="OssClient.OpenAppend"/>; the caller owns it and ends it
    /// with Close or Dispose (or, failing that, the finalizer releases it, dropping what a
    /// buffered one had not stored). Thread-safe: calls from several threads are serialised,
    /// one at a time; a call from its own progress or roll callback throws OssException
    /// (InvalidArgument). Different appenders may be used from different threads at once.
    /// After Dispose every member but Dispose and Close throws ObjectDisposedException.
    /// </summary>
    public sealed class OssAppender : Stream
    {
        private readonly object gate = new object();
        private readonly AppendHandle handle;
        // Reached from C through a weak GCHandle: this field keeps it alive as long as the
        // appender, so a callback that refers to the appender does not keep it alive forever.
        private readonly CallbackState callbacks;

        internal OssAppender(ClientHandle client, string bucket, string key, OssAppendOptions options)
        {
            var userData = default(GCHandle);
            if (options.Progress != null || options.ObjectFinished != null)
            {
                callbacks = new CallbackState { Progress = options.Progress, ObjectFinished = options.ObjectFinished };
                userData = GCHandle.Alloc(callbacks, GCHandleType.Weak);
            }
            try
            {
                using (var native = options.Build(userData))
                {
                    IntPtr append, err;
                    Native.Check(Native.oss_append_open(client, Native.Utf8(bucket, "bucket"), Native.Utf8(key, "key"),
                        native, out append, out err), err);
                    handle = new AppendHandle(append, userData);
                }
            }
            catch
            {
                if (userData.IsAllocated)
                {
                    userData.Free();
                }
                throw;
            }
        }

        /// <summary>
        /// Appends buffer[offset .. offset + count), in requests of at most RequestSize, and
        /// returns once all are stored (buffered: once copied). The data is only read during the
        /// call. On failure the requests before the failing one are stored and Position says how
        /// far; no byte is ever stored twice.
        /// </summary>
        public override void Write(byte[] buffer, int offset, int count)
        {
            int index;
            var data = Native.Range(buffer, offset, count, out index);
            lock (gate)
            {
                handle.ThrowIfClosed("OssAppender");
                IntPtr err;
                Check(Native.oss_append_write(handle, ref data[index], (UIntPtr)count, out err), err);
            }
        }

        /// <summary>Waits until everything written is stored in OSS, without a time limit (nothing to wait for unbuffered).</summary>
        public override void Flush()
        {
            Flush(TimeSpan.Zero);
        }

        /// <summary>
        /// Waits until everything written is stored in OSS, at most `timeout` (zero: no limit).
        /// Throws OssException (Timeout) when time runs out, the bytes staying buffered and
        /// uploading, or with a kept upload error; the upload resumes after it, so calling
        /// Flush again retries.
        /// </summary>
        public void Flush(TimeSpan timeout)
        {
            var milliseconds = OssConfig.Milliseconds(timeout);
            lock (gate)
            {
                handle.ThrowIfClosed("OssAppender");
                IntPtr err;
                Check(Native.oss_append_flush(handle, milliseconds, out err), err);
            }
        }

        /// <summary>
        /// The object's length as far as this appender knows: where the next byte goes (rolling,
        /// in the current object). No request is sent. Cannot be set.
        /// </summary>
        public override long Position
        {
            get { return (long)Query(Native.oss_append_position); }
            set { throw new NotSupportedException("an appender writes at the object's end only"); }
        }

        /// <summary>The CRC-64 of the whole object as far as this appender knows (buffered: of the bytes stored). No request is sent.</summary>
        public ulong Crc64
        {
            get { return Query(Native.oss_append_crc64); }
        }

        /// <summary>The stream's length as far as this appender knows: Position, but for a rolling stream the lengths of all its objects. No request is sent.</summary>
        public long StreamPosition
        {
            get { return (long)Query(Native.oss_append_stream_position); }
        }

        /// <summary>The key of the object being written: the one given at open, or for a rolling stream its current object's. No request is sent.</summary>
        public string Key
        {
            get
            {
                lock (gate)
                {
                    handle.ThrowIfClosed("OssAppender");
                    IntPtr err;
                    UIntPtr length;
                    // The length first: the key changes only in a write, which the gate keeps out.
                    Check(Native.oss_append_key(handle, null, UIntPtr.Zero, out length, out err), err);
                    var key = new byte[(int)(ulong)length + 1];
                    Check(Native.oss_append_key(handle, key, (UIntPtr)key.Length, out length, out err), err);
                    return Encoding.UTF8.GetString(key, 0, (int)(ulong)length);
                }
            }
        }

        /// <summary>
        /// Bytes written but not stored in OSS yet (always 0 unbuffered): they start at
        /// Position less Pending, and <see cref="ReadPending"/> and <see cref="ReadAllPending"/>
        /// copy them out.
        /// </summary>
        public long Pending
        {
            get { return (long)Query(Native.oss_append_pending); }
        }

        /// <summary>
        /// Copies up to `count` of the bytes written but not stored yet (<see cref="Pending"/>)
        /// into buffer[index .. index + count), starting `offset` bytes into them (0 is the
        /// first, at Position less Pending), in the order written, and returns how many: 0 past
        /// the end, and always unbuffered. The bytes stay buffered. This is how a caller takes
        /// back what it handed over after an error no retry mends (OssException with Conflict:
        /// another writer changed the object; or ObjectNotAppendable), before Dispose drops
        /// them: read until 0 is returned, advancing `offset` (or call
        /// <see cref="ReadAllPending"/>). Waits for a request in flight, whose bytes are out of
        /// the buffer while it is sent; while uploads go on, bytes stored between two calls
        /// move the start. Throws ArgumentOutOfRangeException for a negative offset or a range
        /// outside buffer, ArgumentNullException for a null buffer.
        /// </summary>
        public int ReadPending(long offset, byte[] buffer, int index, int count)
        {
            if (offset < 0)
            {
                throw new ArgumentOutOfRangeException("offset", "may not be negative");
            }
            int at;
            var data = Native.Range(buffer, index, count, out at, "index");
            lock (gate)
            {
                handle.ThrowIfClosed("OssAppender");
                return CopyPending((ulong)offset, data, at, count);
            }
        }

        /// <summary>
        /// All the bytes written but not stored yet, in the order written: what
        /// <see cref="ReadPending"/> gives from offset 0 until it returns 0, as one array
        /// (empty when nothing is pending, and always unbuffered). Use it after an error no
        /// retry mends (OssException with Conflict or ObjectNotAppendable) to take back what
        /// the appender held, then Dispose it (which throws that error again and drops them),
        /// and write them elsewhere. The bytes stay buffered. While uploads go on it is a
        /// snapshot: should a request land while it copies, it copies again, so the array is
        /// always exactly the bytes pending at one moment.
        /// </summary>
        public byte[] ReadAllPending()
        {
            lock (gate)
            {
                while (true)
                {
                    // Writes wait for the gate, so Pending can only shrink (as uploads land).
                    var pending = Query(Native.oss_append_pending);
                    var all = new byte[checked((int)pending)];
                    var total = 0;
                    while (total < all.Length)
                    {
                        var copied = CopyPending((ulong)total, all, total, all.Length - total);
                        if (copied == 0)
                        {
                            break;
                        }
                        total += copied;
                    }
                    if (Query(Native.oss_append_pending) == pending)
                    {
                        if (total < all.Length)
                        {
                            Array.Resize(ref all, total);
                        }
                        return all;
                    }
                }
            }
        }

        /// <summary>oss_append_read_pending into data[index .. index + count), a range from Native.Range; under the gate.</summary>
        private int CopyPending(ulong offset, byte[] data, int index, int count)
        {
            IntPtr err;
            UIntPtr copied;
            Check(Native.oss_append_read_pending(handle, offset, ref data[index], (UIntPtr)count, out copied, out err), err);
            return (int)(ulong)copied;
        }

        /// <summary>
        /// Asks the server (a HEAD) for the object's length, CRC-64, type, times, ETag, content
        /// type, user metadata and version id. Throws OssException (NoSuchKey) if nothing was
        /// written yet.
        /// </summary>
        public OssObjectInfo Stat()
        {
            IntPtr raw;
            lock (gate)
            {
                handle.ThrowIfClosed("OssAppender");
                IntPtr err;
                Check(Native.oss_append_stat(handle, out raw, out err), err);
            }
            using (var info = new ObjectInfoHandle(raw))
            {
                return OssObjectInfo.Read(info);
            }
        }

        /// <summary>
        /// Seals the object at this appender's position, after uploading what a buffered one
        /// holds: it then takes no more appends (Write throws OssException with
        /// ObjectNotAppendable) and <see cref="Stat"/> gives its SealedTime. OSS seals only at
        /// the object's length, so a seal never cuts off another writer's bytes (Conflict).
        /// Sealing again changes nothing. The appender stays open: Close or Dispose it as usual.
        /// </summary>
        public void Seal()
        {
            lock (gate)
            {
                handle.ThrowIfClosed("OssAppender");
                IntPtr err;
                Check(Native.oss_append_seal(handle, out err), err);
            }
        }

        /// <summary>
        /// Close and Dispose end the appender, a buffered one after uploading what it holds (no
        /// time limit). They always release it: on failure they throw the OssException and the
        /// bytes not stored (Pending) are dropped (spooled, they stay in the spool for the next
        /// open), so call Flush first where an upload error must be retried, and ReadAllPending
        /// where one no retry mends leaves bytes to take back. Calling them again does nothing.
        /// </summary>
        protected override void Dispose(bool disposing)
        {
            if (!disposing)
            {
                return;
            }
            lock (gate)
            {
                if (handle.IsClosed)
                {
                    return;
                }
                IntPtr err;
                var status = Native.oss_append_close(handle, out err);
                if (status == OssStatus.Ok)
                {
                    handle.ClosedByLibrary();
                }
                else
                {
                    handle.Dispose();
                }
                // Released either way; with SealOnClose, ObjectFinished may have thrown.
                Check(status, err);
            }
        }

        /// <summary>False: an appender cannot be read.</summary>
        public override bool CanRead
        {
            get { return false; }
        }

        /// <summary>False: writes go to the object's end.</summary>
        public override bool CanSeek
        {
            get { return false; }
        }

        /// <summary>True until disposed.</summary>
        public override bool CanWrite
        {
            get { return !handle.IsClosed; }
        }

        /// <summary>Not supported: use Position, or Stat for the server's answer.</summary>
        public override long Length
        {
            get { throw new NotSupportedException("use Position, or Stat for the server's answer"); }
        }

        /// <summary>Not supported: an appender cannot be read.</summary>
        public override int Read(byte[] buffer, int offset, int count)
        {
            throw new NotSupportedException("an appender cannot be read");
        }

        /// <summary>Not supported: writes go to the object's end.</summary>
        public override long Seek(long offset, SeekOrigin origin)
        {
            throw new NotSupportedException("an appender writes at the object's end only");
        }

        /// <summary>Not supported: an appendable object only grows.</summary>
        public override void SetLength(long value)
        {
            throw new NotSupportedException("an appendable object only grows");
        }

        private delegate OssStatus Getter(AppendHandle append, out ulong value, out IntPtr err);

        private ulong Query(Getter getter)
        {
            lock (gate)
            {
                handle.ThrowIfClosed("OssAppender");
                ulong value;
                IntPtr err;
                Check(getter(handle, out value, out err), err);
                return value;
            }
        }

        /// <summary>
        /// Like Native.Check, with what a callback threw during the call: the cause of its
        /// failure, or thrown itself (its stack kept) once the call succeeded.
        /// </summary>
        private void Check(OssStatus status, IntPtr err)
        {
            Exception thrown = null;
            if (callbacks != null)
            {
                // Set by a callback on this thread, during the call just made.
                thrown = callbacks.Thrown;
                callbacks.Thrown = null;
            }
            if (status != OssStatus.Ok)
            {
                throw OssException.Take(status, err, thrown);
            }
            if (thrown != null)
            {
                ExceptionDispatchInfo.Capture(thrown).Throw();
            }
        }
    }
}
