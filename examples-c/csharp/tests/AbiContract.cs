// The binding's P/Invoke declarations checked against include/oss_append.h, so that a change
// of the header (a parameter that became `**out`, a new status) fails here rather than
// corrupting memory at run time. The binding mirrors no C struct: every object is opaque, so
// there is no size or offset to compare, and NoStructMirrors keeps it that way.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using OssAppend;

internal static class AbiContract
{
    private static readonly Assembly Binding = typeof(OssClient).Assembly;

    // The header's enums and the binding's, with the prefix the C names carry.
    private static readonly Dictionary<string, Tuple<Type, string[]>> Enums = new Dictionary<string, Tuple<Type, string[]>>
    {
        { "oss_status", Tuple.Create(typeof(OssStatus), new[] { "OSS_ERR_", "OSS_" }) },
        { "oss_object_type", Tuple.Create(typeof(OssObjectType), new[] { "OSS_OBJECT_" }) },
        { "oss_signature_version", Tuple.Create(typeof(OssSignatureVersion), new[] { "OSS_SIGNATURE_" }) },
        { "oss_url_style", Tuple.Create(typeof(OssUrlStyle), new[] { "OSS_URL_" }) },
        { "oss_log_level", Tuple.Create(typeof(OssLogLevel), new[] { "OSS_LOG_" }) },
        { "oss_spool_sync", Tuple.Create(typeof(OssSpoolSync), new[] { "OSS_SPOOL_SYNC_" }) },
    };

    // The header's opaque objects and the handle type that may stand for a pointer to one.
    private static readonly Dictionary<string, string> Handles = new Dictionary<string, string>
    {
        { "oss_config", "ConfigHandle" },
        { "oss_client", "ClientHandle" },
        { "oss_append_options", "OptionsHandle" },
        { "oss_append", "AppendHandle" },
        { "oss_object_info", "ObjectInfoHandle" },
        { "oss_append_result", "AppendResultHandle" },
    };

    // The header's callback types and the delegates declared for them.
    private static readonly Dictionary<string, string> Callbacks = new Dictionary<string, string>
    {
        { "oss_progress_fn", "ProgressFn" },
        { "oss_log_fn", "LogFn" },
        { "oss_free_fn", "FreeFn" },
        { "oss_roll_fn", "RollFn" },
    };

    /// <summary>A C type as `base` and pointer depth, const, struct and enum dropped.</summary>
    private sealed class CType
    {
        internal string Base;
        internal int Depth;

        internal static CType Parse(string text)
        {
            var stars = text.Count(c => c == '*');
            var words = text.Replace("*", " ").Split(new[] { ' ', '\t', '\n' }, StringSplitOptions.RemoveEmptyEntries)
                .Where(w => w != "const" && w != "struct" && w != "enum").ToList();
            if (words.Count != 1)
            {
                throw new Exception("cannot read the C type " + text);
            }
            return new CType { Base = words[0], Depth = stars };
        }

        public override string ToString()
        {
            return Base + new string('*', Depth);
        }
    }

    /// <summary>A function or callback of the header: return type and parameter types.</summary>
    private sealed class CFunction
    {
        internal CType Return;
        internal List<CType> Parameters;
    }

    private static string header;
    private static Dictionary<string, CFunction> functions;
    private static Dictionary<string, CFunction> callbacks;

    private static void Load()
    {
        if (header != null)
        {
            return;
        }
        var text = File.ReadAllText(FindHeader());
        text = Regex.Replace(text, @"/\*.*?\*/", " ", RegexOptions.Singleline);
        text = Regex.Replace(text, @"//[^\n]*|(?m)^#[^\n]*", " ");
        header = text;
        callbacks = new Dictionary<string, CFunction>();
        foreach (Match m in Regex.Matches(text, @"typedef\s+([^;(]+?)\s*\(\s*\*\s*(\w+)\s*\)\s*\(([^)]*)\)\s*;"))
        {
            callbacks[m.Groups[2].Value] = Function(m.Groups[1].Value, m.Groups[3].Value);
        }
        functions = new Dictionary<string, CFunction>();
        foreach (Match m in Regex.Matches(text, @"(?m)^([A-Za-z_][\w\s\*]*?)\b(oss_\w+)\s*\(([^;{()]*)\)\s*;"))
        {
            functions[m.Groups[2].Value] = Function(m.Groups[1].Value, m.Groups[3].Value);
        }
        if (functions.Count < 50 || callbacks.Count < 4)
        {
            throw new Exception("read only " + functions.Count + " functions and " + callbacks.Count + " callbacks from the header");
        }
    }

    private static CFunction Function(string returns, string parameters)
    {
        var list = parameters.Trim() == "void" ? new List<CType>() : parameters.Split(',')
            .Select(p => Regex.Replace(p.Trim(), @"\w+$", ""))
            .Select(CType.Parse).ToList();
        return new CFunction { Return = CType.Parse(returns), Parameters = list };
    }

    /// <summary>include/oss_append.h, from the directory the test program runs in (target/debug/csharp) upwards.</summary>
    private static string FindHeader()
    {
        for (var dir = new DirectoryInfo(Path.GetDirectoryName(typeof(AbiContract).Assembly.Location)); dir != null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "include", "oss_append.h");
            if (File.Exists(path))
            {
                return path;
            }
        }
        throw new Exception("include/oss_append.h not found above " + typeof(AbiContract).Assembly.Location);
    }

    // ---- Tests ----

    /// <summary>
    /// No value type of the binding but enums: a [StructLayout] mirror of a C struct would have
    /// a layout the header may change under it (this check replaces comparing offsets).
    /// </summary>
    internal static void NoStructMirrors()
    {
        var structs = Binding.GetTypes()
            .Where(t => t.IsValueType && !t.IsEnum && !t.FullName.Contains("<"))
            .Select(t => t.FullName).ToList();
        if (structs.Count > 0)
        {
            throw new Exception("structs in the binding: " + string.Join(", ", structs));
        }
    }

    /// <summary>Every DllImport is a function of the header with the same parameters and return, exported by the library.</summary>
    internal static void ImportsMatchTheHeader()
    {
        Load();
        var native = Binding.GetType("OssAppend.Native", true);
        var imports = native.GetMethods(BindingFlags.Static | BindingFlags.NonPublic)
            .Where(m => (m.Attributes & MethodAttributes.PinvokeImpl) != 0).ToList();
        var problems = new List<string>();
        foreach (var method in imports)
        {
            var import = (DllImportAttribute)method.GetCustomAttributes(typeof(DllImportAttribute), false).Single();
            var name = import.EntryPoint ?? method.Name;
            CFunction c;
            if (!functions.TryGetValue(name, out c))
            {
                problems.Add(name + ": not in the header");
                continue;
            }
            if (import.CallingConvention != CallingConvention.Cdecl)
            {
                problems.Add(name + ": not Cdecl");
            }
            problems.AddRange(Compare(name, c, method.ReturnParameter, method.GetParameters()));
            try
            {
                Marshal.Prelink(method);
            }
            catch (Exception e)
            {
                problems.Add(name + ": not exported by the library (" + e.GetType().Name + ")");
            }
        }
        if (imports.Count < 40)
        {
            problems.Add("only " + imports.Count + " imports found");
        }
        if (problems.Count > 0)
        {
            throw new Exception("the binding differs from the header:\n  " + string.Join("\n  ", problems));
        }
    }

    /// <summary>The callback delegates have the header's signatures and C's calling convention.</summary>
    internal static void CallbacksMatchTheHeader()
    {
        Load();
        var problems = new List<string>();
        foreach (var entry in Callbacks)
        {
            var type = Binding.GetType("OssAppend." + entry.Value, true);
            var convention = (UnmanagedFunctionPointerAttribute)type.GetCustomAttributes(typeof(UnmanagedFunctionPointerAttribute), false)
                .SingleOrDefault();
            if (convention == null || convention.CallingConvention != CallingConvention.Cdecl)
            {
                problems.Add(entry.Key + ": " + entry.Value + " is not Cdecl");
            }
            var invoke = type.GetMethod("Invoke");
            problems.AddRange(Compare(entry.Key, callbacks[entry.Key], invoke.ReturnParameter, invoke.GetParameters()));
        }
        if (problems.Count > 0)
        {
            throw new Exception("the callbacks differ from the header:\n  " + string.Join("\n  ", problems));
        }
    }

    /// <summary>The binding's enums have exactly the header's values, under the same names.</summary>
    internal static void EnumsMatchTheHeader()
    {
        Load();
        var problems = new List<string>();
        foreach (var entry in Enums)
        {
            var body = Regex.Match(header, @"typedef\s+enum\s+" + entry.Key + @"\s*\{([^}]*)\}");
            if (!body.Success)
            {
                problems.Add(entry.Key + ": not in the header");
                continue;
            }
            var c = Regex.Matches(body.Groups[1].Value, @"(\w+)\s*=\s*(-?\d+)").Cast<Match>()
                .Select(m => Normalise(m.Groups[1].Value, entry.Value.Item2) + " = " + m.Groups[2].Value);
            var type = entry.Value.Item1;
            var cs = Enum.GetNames(type).Select(n => n.ToLowerInvariant() + " = " + Convert.ToInt64(Enum.Parse(type, n)));
            problems.AddRange(c.Except(cs).Select(v => entry.Key + ": " + v + " missing from " + type.Name));
            problems.AddRange(cs.Except(c).Select(v => type.Name + ": " + v + " not in " + entry.Key));
            if (Enum.GetUnderlyingType(type) != typeof(int))
            {
                problems.Add(type.Name + ": not int-sized as a C enum");
            }
        }
        if (problems.Count > 0)
        {
            throw new Exception("the enums differ from the header:\n  " + string.Join("\n  ", problems));
        }
    }

    private static string Normalise(string name, string[] prefixes)
    {
        var prefix = prefixes.First(name.StartsWith);
        return name.Substring(prefix.Length).Replace("_", "").ToLowerInvariant();
    }

    // ---- Type comparison ----

    private static IEnumerable<string> Compare(string name, CFunction c, ParameterInfo returns, ParameterInfo[] parameters)
    {
        if (c.Parameters.Count != parameters.Length)
        {
            yield return name + ": " + parameters.Length + " parameters, the header has " + c.Parameters.Count;
            yield break;
        }
        var problem = Fits(c.Return, returns, true);
        if (problem != null)
        {
            yield return name + " returns " + c.Return + ": " + problem;
        }
        for (var i = 0; i < parameters.Length; i++)
        {
            problem = Fits(c.Parameters[i], parameters[i], false);
            if (problem != null)
            {
                yield return name + " parameter " + i + " (" + c.Parameters[i] + "): " + problem;
            }
        }
    }

    /// <summary>Null when `p` can stand for the C type `c`, else why not.</summary>
    private static string Fits(CType c, ParameterInfo p, bool isReturn)
    {
        var t = p.ParameterType;
        var byRef = t.IsByRef;
        var element = byRef ? t.GetElementType() : t;
        var allowed = new List<Type>();
        var refs = new List<Type>();
        if (c.Depth == 0)
        {
            switch (c.Base)
            {
                case "void": allowed.Add(typeof(void)); break;
                case "bool":
                    allowed.Add(typeof(bool));
                    // Unmarked, a bool is marshalled as a 4-byte Win32 BOOL; C's bool is one byte.
                    var marshal = p.GetCustomAttributes(typeof(MarshalAsAttribute), false).Cast<MarshalAsAttribute>().SingleOrDefault();
                    if (t == typeof(bool) && (marshal == null || marshal.Value != UnmanagedType.U1))
                    {
                        return "a bool without [MarshalAs(UnmanagedType.U1)]";
                    }
                    break;
                case "uint8_t": allowed.Add(typeof(byte)); break;
                case "uint32_t": allowed.Add(typeof(uint)); break;
                case "int": allowed.Add(typeof(int)); break;
                case "uint64_t": allowed.Add(typeof(ulong)); break;
                case "int64_t": allowed.Add(typeof(long)); break;
                case "size_t": allowed.Add(typeof(UIntPtr)); break;
                default:
                    if (Enums.ContainsKey(c.Base))
                    {
                        allowed.Add(Enums[c.Base].Item1);
                    }
                    else if (Callbacks.ContainsKey(c.Base))
                    {
                        allowed.Add(Binding.GetType("OssAppend." + Callbacks[c.Base], true));
                    }
                    else
                    {
                        return "no C# type is known for it";
                    }
                    break;
            }
        }
        else if (c.Depth == 1)
        {
            allowed.Add(typeof(IntPtr));
            switch (c.Base)
            {
                // A string in is a NUL-terminated byte array; one out is a pointer to copy from.
                case "char": if (!isReturn) allowed.Add(typeof(byte[])); break;
                case "uint8_t": refs.Add(typeof(byte)); allowed.Add(typeof(byte[])); break;
                case "uint64_t": refs.Add(typeof(ulong)); allowed.Add(typeof(ulong[])); break;
                case "size_t": refs.Add(typeof(UIntPtr)); break;
                default:
                    if (Handles.ContainsKey(c.Base))
                    {
                        if (!isReturn)
                        {
                            allowed.Add(Binding.GetType("OssAppend." + Handles[c.Base], true));
                        }
                    }
                    // Objects the binding only passes on (errors, taken at once into OssException).
                    else if (c.Base != "void" && c.Base != "oss_error" && c.Base != "oss_credentials")
                    {
                        return "no C# type is known for it";
                    }
                    break;
            }
        }
        else if (c.Depth == 2)
        {
            // `T **out`: the library writes a pointer, which the binding takes into a handle.
            refs.Add(typeof(IntPtr));
        }
        if (byRef ? refs.Contains(element) : allowed.Contains(t))
        {
            return null;
        }
        return "declared " + (byRef ? (p.IsOut ? "out " : "ref ") : "") + element.Name;
    }
}
