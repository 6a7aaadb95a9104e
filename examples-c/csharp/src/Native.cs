// The C ABI of liboss_append (include/oss_append.h) as P/Invoke declarations, the handles
// that own its objects, and the conversions every call needs. Internal: the public types
// are OssClient, OssAppender and OssException.
//
// No unsafe code, so a Unity project needs no "Allow 'unsafe' code": data goes to C as a
// `ref` to its first byte, strings as NUL-terminated UTF-8 byte arrays.
//
// No struct of C is mirrored: every object of the header is opaque, held by a handle here and
// read through its functions, so no layout can drift between the header and this file.
using System;
using System.Runtime.InteropServices;
using System.Text;

namespace OssAppend
{
    /// <summary>
    /// Marks a static method that C calls through a function pointer. IL2CPP compiles ahead of
    /// time and makes such a pointer only for a static method carrying an attribute of this
    /// name (in any namespace), so the library does not need UnityEngine's
    /// <c>AOT.MonoPInvokeCallbackAttribute</c>.
    /// </summary>
    [AttributeUsage(AttributeTargets.Method)]
    internal sealed class MonoPInvokeCallbackAttribute : Attribute
    {
        public MonoPInvokeCallbackAttribute(Type delegateType)
        {
            DelegateType = delegateType;
        }

        public Type DelegateType { get; private set; }
    }

    // The callback types of the header; `user_data` first, as every callback there.
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    [return: MarshalAs(UnmanagedType.U1)]
    internal delegate bool ProgressFn(IntPtr userData, ulong increment, ulong transferred, long total);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void LogFn(IntPtr userData, int level, IntPtr message);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void FreeFn(IntPtr userData);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void RollFn(IntPtr userData, IntPtr finishedKey, ulong length, ulong crc64);

    // A string setter of the header: `oss_status f(handle, const char *value, oss_error **err)`.
    internal delegate OssStatus TextSetter<T>(T handle, byte[] value, out IntPtr err);

    /// <summary>Owns one object of the library; released once, by Dispose or the finalizer.</summary>
    internal abstract class NativeHandle : SafeHandle
    {
        private readonly Action<IntPtr> free;

        protected NativeHandle(IntPtr raw, Action<IntPtr> free) : base(IntPtr.Zero, true)
        {
            SetHandle(raw);
            this.free = free;
        }

        public override bool IsInvalid
        {
            get { return handle == IntPtr.Zero; }
        }

        /// <summary>Throws ObjectDisposedException once released, naming what the caller used.</summary>
        internal void ThrowIfClosed(string owner)
        {
            if (IsClosed)
            {
                throw new ObjectDisposedException(owner);
            }
        }

        protected override bool ReleaseHandle()
        {
            free(handle);
            return true;
        }
    }

    // One type per object, so that P/Invoke signatures cannot mix them up.
    internal sealed class ConfigHandle : NativeHandle
    {
        internal ConfigHandle() : base(Native.NotNull(Native.oss_config_new(), "oss_config_new"), Native.oss_config_free) { }
    }

    internal sealed class ClientHandle : NativeHandle
    {
        internal ClientHandle(IntPtr raw) : base(raw, Native.oss_client_free) { }
    }

    internal sealed class OptionsHandle : NativeHandle
    {
        internal OptionsHandle()
            : base(Native.NotNull(Native.oss_append_options_new(), "oss_append_options_new"), Native.oss_append_options_free) { }
    }

    // The answers of oss_append_stat and oss_append_object: opaque, read through accessors,
    // so no layout of the header's is copied here.
    internal sealed class ObjectInfoHandle : NativeHandle
    {
        internal ObjectInfoHandle(IntPtr raw) : base(raw, Native.oss_object_info_free) { }
    }

    internal sealed class AppendResultHandle : NativeHandle
    {
        internal AppendResultHandle(IntPtr raw) : base(raw, Native.oss_append_result_free) { }
    }

    /// <summary>
    /// An oss_append and the GCHandle its callbacks' user_data is, freed with it.
    /// </summary>
    internal sealed class AppendHandle : NativeHandle
    {
        private GCHandle userData;

        internal AppendHandle(IntPtr raw, GCHandle userData) : base(raw, Native.oss_append_free)
        {
            this.userData = userData;
        }

        /// <summary>After a successful oss_append_close, which freed the appender itself.</summary>
        internal void ClosedByLibrary()
        {
            SetHandleAsInvalid();
            FreeUserData();
        }

        protected override bool ReleaseHandle()
        {
            base.ReleaseHandle();
            FreeUserData();
            return true;
        }

        private void FreeUserData()
        {
            if (userData.IsAllocated)
            {
                userData.Free();
            }
        }
    }

    internal static class Native
    {
#if UNITY_IOS && !UNITY_EDITOR
        // iOS apps may not load libraries of their own: liboss_append.a is linked into the app.
        private const string Library = "__Internal";
#else
        private const string Library = "oss_append";
#endif
        /// <summary>Throws the OssException for a failed call; status and err are what it returned.</summary>
        internal static void Check(OssStatus status, IntPtr err)
        {
            if (status != OssStatus.Ok)
            {
                throw OssException.Take(status, err, null);
            }
        }

        internal static IntPtr NotNull(IntPtr made, string function)
        {
            if (made == IntPtr.Zero)
            {
                throw OssException.Take(OssStatus.Internal, IntPtr.Zero, null, function + " failed");
            }
            return made;
        }

        /// <summary>
        /// A string as C takes it: UTF-8 whatever the platform's default, NUL-terminated; null
        /// stays null. A NUL inside would cut the string short in C, so it is refused here.
        /// </summary>
        internal static byte[] Utf8(string value, string name)
        {
            if (value == null)
            {
                return null;
            }
            if (value.IndexOf('\0') >= 0)
            {
                throw new ArgumentException("contains a NUL character", name);
            }
            var bytes = new byte[Encoding.UTF8.GetByteCount(value) + 1];
            Encoding.UTF8.GetBytes(value, 0, value.Length, bytes, 0);
            return bytes;
        }

        /// <summary>A NUL-terminated UTF-8 string owned by C, copied; NULL gives null.</summary>
        internal static string FromUtf8(IntPtr text)
        {
            if (text == IntPtr.Zero)
            {
                return null;
            }
            var length = 0;
            while (Marshal.ReadByte(text, length) != 0)
            {
                length++;
            }
            var bytes = new byte[length];
            Marshal.Copy(text, bytes, 0, length);
            return Encoding.UTF8.GetString(bytes);
        }

        /// <summary>Seconds since 1970 as the header gives times; a negative value (-1) is absent.</summary>
        internal static DateTimeOffset? FromSeconds(long seconds)
        {
            return seconds >= 0 ? DateTimeOffset.FromUnixTimeSeconds(seconds) : (DateTimeOffset?)null;
        }

        /// <summary>Calls a string setter when the value is set.</summary>
        internal static void Set<T>(T handle, string value, string name, TextSetter<T> setter)
        {
            if (value == null)
            {
                return;
            }
            IntPtr err;
            Check(setter(handle, Utf8(value, name), out err), err);
        }

        private static readonly byte[] NoData = new byte[1];

        /// <summary>
        /// The array and index whose element C reads (or writes) `count` bytes at, after
        /// checking the range as Stream.Write and Stream.Read do; `offsetName` names the
        /// caller's parameter for `offset`. Passed as `ref array[index]`, which the runtime pins
        /// for the call; an empty range points at a byte of its own, which C neither reads nor
        /// writes (it is shared).
        /// </summary>
        internal static byte[] Range(byte[] buffer, int offset, int count, out int index, string offsetName = "offset")
        {
            if (buffer == null)
            {
                throw new ArgumentNullException("buffer");
            }
            if (offset < 0 || count < 0 || offset > buffer.Length - count)
            {
                throw new ArgumentOutOfRangeException(offsetName, offsetName + " and count must lie within buffer");
            }
            index = count == 0 ? 0 : offset;
            return count == 0 ? NoData : buffer;
        }

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr oss_version();

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint oss_version_number();

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr oss_status_str(int status);

        // Errors.
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr oss_error_message(IntPtr error);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr oss_error_code(IntPtr error);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr oss_error_request_id(IntPtr error);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr oss_error_ec(IntPtr error);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int oss_error_http_status(IntPtr error);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.U1)]
        internal static extern bool oss_error_next_position(IntPtr error, out ulong position);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void oss_error_free(IntPtr error);

        // Config.
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr oss_config_new();

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void oss_config_free(IntPtr config);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_config_set_endpoint(ConfigHandle config, byte[] endpoint, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_config_set_region(ConfigHandle config, byte[] region, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_config_set_ca_file(ConfigHandle config, byte[] path, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_config_set_proxy(ConfigHandle config, byte[] proxy, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_config_set_user_agent(ConfigHandle config, byte[] userAgent, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_config_set_credentials(ConfigHandle config, byte[] accessKeyId,
            byte[] accessKeySecret, byte[] securityToken, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_config_set_credentials_from_env(ConfigHandle config, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_config_set_log(ConfigHandle config, LogFn callback, IntPtr userData,
            FreeFn freeUserData, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_config_set_signature_version(ConfigHandle config, int version, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_config_set_url_style(ConfigHandle config, int style, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_config_set_connect_timeout_ms(ConfigHandle config, ulong milliseconds,
            out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_config_set_request_timeout_ms(ConfigHandle config, ulong milliseconds,
            out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_config_set_retry(ConfigHandle config, uint maxAttempts, ulong baseDelayMs,
            ulong maxDelayMs, out IntPtr err);

        // Client.
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_client_new(ConfigHandle config, out IntPtr client, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void oss_client_free(IntPtr client);

        // `previousCrc` is an array of one value or null: C's `const uint64_t *` without unsafe code.
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_spool_drain(ClientHandle client, byte[] dir, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_object(ClientHandle client, byte[] bucket, byte[] key,
            ulong position, ref byte data, UIntPtr len, OptionsHandle options, ulong[] previousCrc,
            out IntPtr result, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ulong oss_append_result_next_position(AppendResultHandle result);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ulong oss_append_result_crc64(AppendResultHandle result);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr oss_append_result_etag(AppendResultHandle result);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr oss_append_result_version_id(AppendResultHandle result);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr oss_append_result_request_id(AppendResultHandle result);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void oss_append_result_free(IntPtr result);

        // Options.
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr oss_append_options_new();

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void oss_append_options_free(IntPtr options);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_options_set_content_type(OptionsHandle options, byte[] value,
            out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_options_set_cache_control(OptionsHandle options, byte[] value,
            out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_options_set_content_disposition(OptionsHandle options,
            byte[] value, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_options_set_content_encoding(OptionsHandle options, byte[] value,
            out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_options_set_expires(OptionsHandle options, byte[] value,
            out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_options_set_acl(OptionsHandle options, byte[] value, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_options_set_storage_class(OptionsHandle options, byte[] value,
            out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_options_set_tagging(OptionsHandle options, byte[] value,
            out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_options_set_request_payer(OptionsHandle options, byte[] value,
            out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_options_add_metadata(OptionsHandle options, byte[] name,
            byte[] value, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_options_set_traffic_limit(OptionsHandle options,
            ulong bitsPerSecond, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_options_set_check_crc(OptionsHandle options,
            [MarshalAs(UnmanagedType.U1)] bool check, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_options_set_seal_on_close(OptionsHandle options,
            [MarshalAs(UnmanagedType.U1)] bool seal, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_options_set_request_size(OptionsHandle options, UIntPtr bytes,
            out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_options_set_buffer(OptionsHandle options, UIntPtr capacity,
            ulong maxDelayMs, [MarshalAs(UnmanagedType.U1)] bool blockWhenFull, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_options_set_spool(OptionsHandle options, byte[] dir, int sync,
            uint intervalMs, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_options_set_roll(OptionsHandle options, ulong maxObjectSize,
            ulong maxAgeMs, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_options_set_roll_callback(OptionsHandle options, RollFn callback,
            IntPtr userData, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_options_set_progress(OptionsHandle options, ProgressFn callback,
            IntPtr userData, out IntPtr err);

        // Appender.
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_open(ClientHandle client, byte[] bucket, byte[] key,
            OptionsHandle options, out IntPtr append, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_write(AppendHandle append, ref byte data, UIntPtr len,
            out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_position(AppendHandle append, out ulong position, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_crc64(AppendHandle append, out ulong crc64, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_pending(AppendHandle append, out ulong pending, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_stream_position(AppendHandle append, out ulong position,
            out IntPtr err);

        // `buf` is written (null with size 0 asks for the length only); [Out] copies it back
        // should the runtime not pin the array.
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_key(AppendHandle append, [Out] byte[] buf, UIntPtr size,
            out UIntPtr length, out IntPtr err);

        // `buf` is written: `ref array[index]`, pinned for the call like the data of a write.
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_read_pending(AppendHandle append, ulong offset, ref byte buf,
            UIntPtr len, out UIntPtr copied, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_flush(AppendHandle append, ulong timeoutMs, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_stat(AppendHandle append, out IntPtr info, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_seal(AppendHandle append, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssStatus oss_append_close(AppendHandle append, out IntPtr err);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void oss_append_free(IntPtr append);

        // Object info.
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ulong oss_object_info_length(ObjectInfoHandle info);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.U1)]
        internal static extern bool oss_object_info_crc64(ObjectInfoHandle info, out ulong crc64);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern OssObjectType oss_object_info_type(ObjectInfoHandle info);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern long oss_object_info_last_modified(ObjectInfoHandle info);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern long oss_object_info_sealed_time(ObjectInfoHandle info);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr oss_object_info_etag(ObjectInfoHandle info);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr oss_object_info_content_type(ObjectInfoHandle info);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr oss_object_info_version_id(ObjectInfoHandle info);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr oss_object_info_request_id(ObjectInfoHandle info);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern UIntPtr oss_object_info_metadata_count(ObjectInfoHandle info);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.U1)]
        internal static extern bool oss_object_info_metadata(ObjectInfoHandle info, UIntPtr index, out IntPtr name,
            out IntPtr value);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void oss_object_info_free(IntPtr info);
    }
}
