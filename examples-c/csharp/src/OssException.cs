using System;

namespace OssAppend
{
    /// <summary>
    /// What a call did: the values of <c>oss_status</c> in oss_append.h, stable across releases.
    /// </summary>
    public enum OssStatus
    {
        /// <summary>Success.</summary>
        Ok = 0,
        /// <summary>An argument is null, out of range or refused by OSS as malformed; nothing was sent.</summary>
        InvalidArgument = 1,
        /// <summary>The object's length is not the position written at: see <see cref="OssException.NextPosition"/>.</summary>
        PositionNotEqualToLength = 2,
        /// <summary>The object exists and is not an appendable object.</summary>
        ObjectNotAppendable = 3,
        /// <summary>The identity may not do this.</summary>
        AccessDenied = 4,
        /// <summary>Usually a wrong AccessKey secret.</summary>
        SignatureMismatch = 5,
        /// <summary>The AccessKey id is unknown or disabled.</summary>
        InvalidAccessKey = 6,
        /// <summary>The STS security token is invalid or expired.</summary>
        SecurityToken = 7,
        /// <summary>OSS NoSuchBucket.</summary>
        NoSuchBucket = 8,
        /// <summary>OSS NoSuchKey.</summary>
        NoSuchKey = 9,
        /// <summary>The append would make the object larger than OSS allows (5 GiB); nothing was sent.</summary>
        ObjectTooLarge = 10,
        /// <summary>Still skewed after correcting the clock from the server.</summary>
        RequestTimeSkewed = 11,
        /// <summary>The server's CRC-64 differs from the client's: data was damaged.</summary>
        CrcMismatch = 12,
        /// <summary>Another writer changed the object.</summary>
        Conflict = 13,
        /// <summary>Throttled or unavailable (HTTP 429, 503), after the retries allowed.</summary>
        Unavailable = 14,
        /// <summary>Another server-side failure (HTTP 5xx), after the retries allowed.</summary>
        ServerError = 15,
        /// <summary>Any other error from OSS: see <see cref="OssException.Code"/>.</summary>
        Service = 16,
        /// <summary>No answer in time.</summary>
        Timeout = 17,
        /// <summary>The connection failed (DNS, refused, reset).</summary>
        Network = 18,
        /// <summary>TLS failed (certificate not trusted, handshake).</summary>
        Tls = 19,
        /// <summary>Reading the caller's data failed.</summary>
        IO = 20,
        /// <summary>A progress callback asked to stop (or threw); what was stored stays.</summary>
        Cancelled = 21,
        /// <summary>The handle is closed.</summary>
        Closed = 22,
        /// <summary>No credentials: none configured, or the environment lacks them.</summary>
        CredentialsMissing = 23,
        /// <summary>A bug in the library, caught before it could reach the caller.</summary>
        Internal = 24,
        /// <summary>A buffered write found the buffer full and took nothing (set not to wait).</summary>
        WouldBlock = 25,
        /// <summary>A buffer of the request size or buffer capacity set could not be allocated; nothing was taken.</summary>
        OutOfMemory = 26,
        /// <summary>The disk spool failed (a full disk, an I/O error), or a file in it is not a usable spool file (named, and renamed aside with ".bad"); a write that fails so took nothing.</summary>
        SpoolIO = 27,
        /// <summary>Another appender, in this process or another, owns the spool of this object.</summary>
        SpoolInUse = 28,
    }

    /// <summary>
    /// A failed call of the library, with what the server said. Immutable: may be read from any
    /// thread. It owns copies of everything; nothing in it refers to native memory.
    /// </summary>
    public sealed class OssException : Exception
    {
        private OssException(string message, Exception inner) : base(message, inner) { }

        /// <summary>What kind of failure this is.</summary>
        public OssStatus Status { get; private set; }

        /// <summary>OSS's error code, such as "PositionNotEqualToLength"; null when the server sent none.</summary>
        public string Code { get; private set; }

        /// <summary>The x-oss-request-id of the failed request, to quote to support; null when there was none.</summary>
        public string RequestId { get; private set; }

        /// <summary>OSS's EC (error detail code, such as "0026-00000001"); null when absent.</summary>
        public string Ec { get; private set; }

        /// <summary>The HTTP status of the server's answer; 0 when there was no answer.</summary>
        public int HttpStatus { get; private set; }

        /// <summary>The object's length as OSS reported it (with PositionNotEqualToLength); null when it did not say.</summary>
        public ulong? NextPosition { get; private set; }

        /// <summary>
        /// Converts and frees a native error (which may be NULL); `inner` is the managed
        /// exception behind the failure, such as one a callback threw.
        /// </summary>
        internal static OssException Take(OssStatus status, IntPtr error, Exception inner, string message = null)
        {
            try
            {
                ulong next;
                var hasNext = Native.oss_error_next_position(error, out next);
                var text = error != IntPtr.Zero
                    ? Native.FromUtf8(Native.oss_error_message(error))
                    : message ?? Native.FromUtf8(Native.oss_status_str((int)status));
                if (inner != null)
                {
                    text += ": " + inner.Message;
                }
                return new OssException(text, inner)
                {
                    Status = status,
                    Code = Native.FromUtf8(Native.oss_error_code(error)),
                    RequestId = Native.FromUtf8(Native.oss_error_request_id(error)),
                    Ec = Native.FromUtf8(Native.oss_error_ec(error)),
                    HttpStatus = Native.oss_error_http_status(error),
                    NextPosition = hasNext ? next : (ulong?)null,
                };
            }
            finally
            {
                Native.oss_error_free(error);
            }
        }
    }
}
