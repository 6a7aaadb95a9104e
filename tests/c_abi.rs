//! The C ABI as C and C++ programs meet it: the committed header is what cbindgen makes,
//! the shared library exports only `oss_*` symbols, versioned, and has a SONAME, a program
//! built against the 1.0 header runs against it (tests/abi/), every example and
//! test program compiles with `-Wall -Wextra -Wpedantic -Werror` under AddressSanitizer
//! and UBSan, links dynamically and statically, and runs against the local server, whose
//! objects must then hold exactly the bytes the programs sent. One run is under valgrind.
//!
//! The C programs link the library cargo built in target/<profile>/, which `cargo test`
//! alone does not rebuild: `make test` runs `cargo build` first, and a stale library fails
//! here instead of being tested.

mod common;

use oss_local_server::{Action, Fault, Op, Server};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

const AK: &str = "c-test-ak";
const SK: &str = "c-test-sk";
const BUCKET: &str = "c-test";
/// What rustc lists for linking the static library on Linux (`--print native-static-libs`).
const STATIC_LIBS: &[&str] = &["-lpthread", "-ldl", "-lm", "-lrt", "-lutil", "-lgcc_s"];
const STRICT: &[&str] = &["-Wall", "-Wextra", "-Wpedantic", "-Werror"];
const SANITIZE: &[&str] = &[
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
    "-g",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// target/<profile>/, where cargo put liboss_append.{so,a}.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn newest_source() -> SystemTime {
    fn walk(dir: &Path, newest: &mut SystemTime) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, newest);
            } else {
                *newest = (*newest).max(path.metadata().unwrap().modified().unwrap());
            }
        }
    }
    let mut newest = SystemTime::UNIX_EPOCH;
    walk(&root().join("src"), &mut newest);
    newest
}

/// A built library, checked to be newer than every source file.
fn library(name: &str) -> PathBuf {
    let path = profile_dir().join(name);
    let built = path
        .metadata()
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| {
            panic!(
                "{} is missing: run `cargo build` first (`make test` does)",
                path.display()
            )
        });
    assert!(
        built >= newest_source(),
        "{} is older than src/: run `cargo build` first (`make test` does)",
        path.display()
    );
    path
}

/// A fresh directory per call, under target/, for programs and their files.
fn scratch(name: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let dir = profile_dir().join("c-abi").join(format!(
        "{name}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Link {
    Dynamic,
    Static,
}

/// The SONAME, and the version node of every export: the major version's.
const SONAME: &str = concat!("liboss_append.so.", env!("CARGO_PKG_VERSION_MAJOR"));

/// A lib/ holding the shared library under its SONAME, as an installation would.
fn shared_lib_dir(dir: &Path) -> PathBuf {
    let lib = dir.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::copy(library("liboss_append.so"), lib.join(SONAME)).unwrap();
    std::os::unix::fs::symlink(SONAME, lib.join("liboss_append.so")).unwrap();
    lib
}

/// Compiles `sources` (C, or C++ for .cpp) into `dir/name`, strict, optionally sanitized.
fn compile(dir: &Path, name: &str, sources: &[&str], link: Link, sanitize: bool) -> PathBuf {
    let cpp = sources.iter().any(|s| s.ends_with(".cpp"));
    let out = dir.join(name);
    let mut cmd = Command::new(if cpp { "g++" } else { "gcc" });
    cmd.arg(if cpp { "-std=c++17" } else { "-std=c11" })
        .arg("-pthread")
        .args(STRICT)
        .arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(root().join("examples-c/cpp"));
    if sanitize {
        cmd.args(SANITIZE);
    }
    for source in sources {
        cmd.arg(root().join(source));
    }
    match link {
        Link::Dynamic => {
            let lib = shared_lib_dir(dir);
            cmd.arg("-L")
                .arg(&lib)
                .arg("-loss_append")
                .arg(format!("-Wl,-rpath,{}", lib.display()));
        }
        Link::Static => {
            cmd.arg(library("liboss_append.a")).args(STATIC_LIBS);
        }
    }
    let output = cmd
        .arg("-o")
        .arg(&out)
        .output()
        .expect("a C compiler (gcc, g++)");
    assert!(
        output.status.success(),
        "compiling {sources:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

fn start() -> Server {
    common::start_server(AK, SK, BUCKET)
}

/// A command for a built program with the server's endpoint and credentials in its
/// environment, in its own directory.
fn program(path: &Path, server: &Server) -> Command {
    let mut cmd = Command::new(path);
    cmd.current_dir(path.parent().unwrap())
        .env("OSS_ENDPOINT", server.url())
        .env("OSS_REGION", "cn-hangzhou")
        .env("OSS_ACCESS_KEY_ID", AK)
        .env("OSS_ACCESS_KEY_SECRET", SK)
        .env_remove("OSS_SESSION_TOKEN")
        // Leaks are errors too; a sanitizer report fails the run.
        .env(
            "ASAN_OPTIONS",
            "detect_leaks=1:abort_on_error=0:exitcode=86",
        )
        .env(
            "UBSAN_OPTIONS",
            "print_stacktrace=1:halt_on_error=1:exitcode=87",
        );
    cmd
}

/// Runs a test program taking ENDPOINT BUCKET, which must print that all its checks passed.
fn passes(exe: &Path, server: &Server) {
    let out = succeed(program(exe, server).arg(server.url()).arg(BUCKET), None);
    assert!(out.contains("all passed"), "{out}");
}

/// valgrind, failing the run on any error or leak, in `dir`, for a program to follow.
fn valgrind(server: &Server, dir: &Path) -> Command {
    let mut cmd = program(Path::new("valgrind"), server);
    cmd.current_dir(dir).args([
        "--error-exitcode=99",
        "--leak-check=full",
        "--show-leak-kinds=definite,indirect",
        "--errors-for-leak-kinds=definite,indirect",
        "--quiet",
    ]);
    cmd
}

fn run(cmd: &mut Command, stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn succeed(cmd: &mut Command, stdin: Option<&[u8]>) -> String {
    let output = run(cmd, stdin);
    assert!(
        output.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Byte i of a run seeded `seed` is (i * 7 + seed) % 251, as in tests/c/api.c.
fn pattern(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + seed) % 251) as u8).collect()
}

fn object(server: &Server, key: &str) -> Vec<u8> {
    server
        .object_bytes(BUCKET, key)
        .unwrap_or_else(|| panic!("no object {key}"))
}

#[test]
fn committed_header_is_what_cbindgen_generates() {
    let generated = include_str!(env!("OSS_APPEND_GENERATED_HEADER"));
    let committed = std::fs::read_to_string(root().join("include/oss_append.h")).unwrap();
    assert!(
        committed == generated,
        "include/oss_append.h differs from what cbindgen generates: run `make header` and commit it"
    );
}

#[test]
fn header_declares_only_oss_names() {
    let header = include_str!(env!("OSS_APPEND_GENERATED_HEADER"));
    let word_before = |text: &str, end: usize| {
        text[..end]
            .trim_end()
            .rsplit([' ', '*', '('])
            .next()
            .unwrap()
            .to_string()
    };
    let mut names = exported_functions();
    for line in header.lines() {
        if let Some(rest) = line.strip_prefix("#define ") {
            names.push(rest.split_whitespace().next().unwrap().to_string());
        } else if let Some(pointer) = line.find("(*") {
            // typedef int (*oss_read_fn)(...
            names.push(line[pointer + 2..line[pointer..].find(')').unwrap() + pointer].to_string());
        } else if line.starts_with("typedef") || (line.starts_with('}') && line.ends_with(';')) {
            // typedef struct oss_x oss_x;  typedef enum oss_x {  } oss_x;
            let end = line.find([';', '{']).unwrap_or(line.len());
            names.push(word_before(line, end));
        }
    }
    assert!(names.len() > 70, "too few names parsed: {names:?}");
    for name in names {
        assert!(
            name.starts_with("oss_") || name.starts_with("OSS_"),
            "{name:?} is not in the oss_/OSS_ namespace"
        );
    }
}

/// Function names declared in the header.
fn exported_functions() -> Vec<String> {
    let header = include_str!(env!("OSS_APPEND_GENERATED_HEADER"));
    header
        .lines()
        .filter(|l| {
            !l.starts_with(' ')
                && !l.starts_with('#')
                && !l.starts_with('/')
                && !l.starts_with("typedef")
        })
        .filter_map(|l| {
            l.find('(')
                .map(|open| l[..open].rsplit([' ', '*']).next().unwrap().to_string())
        })
        .collect()
}

#[test]
fn shared_library_exports_only_oss_functions_versioned_under_a_soname() {
    let so = library("liboss_append.so");
    // `NAME@@VERSION`, one line per defined dynamic symbol.
    let nm = Command::new("nm")
        .args(["-D", "--defined-only", "--with-symbol-versions"])
        .arg(&so)
        .output()
        .unwrap();
    assert!(nm.status.success());
    let listing = String::from_utf8(nm.stdout).unwrap();
    let mut exported = Vec::new();
    for line in listing.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields[..] {
            // The definition of the version node itself.
            [_, "A", name] if name == SONAME => {}
            [_, "T", symbol] => {
                let (name, version) = symbol.split_once("@@").unwrap_or((symbol, ""));
                assert!(name.starts_with("oss_"), "exported beyond oss_*: {line}");
                assert_eq!(version, SONAME, "{name} is not in the version node");
                exported.push(name.to_string());
            }
            _ => panic!("exported beyond oss_ functions: {line}"),
        }
    }
    let mut declared = exported_functions();
    declared.sort();
    exported.sort();
    assert_eq!(
        declared, exported,
        "the header and the library's exports differ"
    );

    let readelf = Command::new("readelf").arg("-d").arg(&so).output().unwrap();
    let dynamic = String::from_utf8(readelf.stdout).unwrap();
    assert!(
        dynamic.contains(&format!("Library soname: [{SONAME}]")),
        "{dynamic}"
    );
}

#[test]
fn header_macros_and_library_tell_the_crate_version() {
    let dir = scratch("version");
    for link in [Link::Dynamic, Link::Static] {
        let exe = compile(
            &dir,
            &format!("version-{link:?}"),
            &["tests/abi/version.c"],
            link,
            true,
        );
        let out = succeed(Command::new(&exe).arg(env!("CARGO_PKG_VERSION")), None);
        assert!(out.contains("agree"), "{out}");
    }
}

/// tests/abi/old_program.c includes the 1.0 header kept with the ABI baseline, not
/// include/: what a program built against 1.0 finds in this library must still work.
#[test]
fn program_built_against_the_1_0_header_runs_against_this_library() {
    let server = start();
    let dir = scratch("old-program");
    let exe = compile(
        &dir,
        "old_program",
        &["tests/abi/old_program.c"],
        Link::Dynamic,
        true,
    );
    passes(&exe, &server);
    assert!(object(&server, "old/object") == pattern(100_000, 11));
}

#[test]
fn misuse_program_calls_every_export_and_gets_invalid_argument() {
    let source = std::fs::read_to_string(root().join("tests/c/misuse.c")).unwrap();
    for function in exported_functions() {
        assert!(
            source.contains(&format!("{function}(")),
            "tests/c/misuse.c does not call {function}"
        );
    }
    let dir = scratch("misuse");
    for link in [Link::Dynamic, Link::Static] {
        let exe = compile(
            &dir,
            &format!("misuse-{link:?}"),
            &["tests/c/misuse.c"],
            link,
            true,
        );
        let out = succeed(&mut Command::new(&exe), None);
        assert!(out.contains("all refused"), "{out}");
    }
}

#[test]
fn api_program_passes_against_the_local_server_linked_both_ways() {
    for link in [Link::Dynamic, Link::Static] {
        let server = start();
        let dir = scratch("api");
        let exe = compile(&dir, "api", &["tests/c/api.c"], link, true);
        passes(&exe, &server);

        let data = pattern(100_000, 1);
        let mut write = data.clone();
        write.extend_from_slice(&data[..10]);
        write.extend_from_slice(&data[..1]);
        assert!(
            object(&server, "api/write") == write,
            "api/write ({link:?})"
        );
        let mut stream = data.clone();
        stream.extend_from_slice(&data[..5000]);
        assert!(
            object(&server, "api/stream") == stream,
            "api/stream ({link:?})"
        );
        assert!(
            object(&server, "api/cancel") == data[..60_000],
            "api/cancel ({link:?})"
        );
        assert!(
            object(&server, "api/outlive") == data[..10],
            "api/outlive ({link:?})"
        );
        assert!(
            object(&server, "api/sealed") == data[..100],
            "api/sealed ({link:?})"
        );
        assert!(
            object(&server, "api/taken-back") == b"xyz",
            "api/taken-back ({link:?})"
        );
        assert!(
            object(&server, "api/spooled") == [&data[..10_000], &data[..10]].concat(),
            "api/spooled ({link:?})"
        );
        for key in ["api/drained-1", "api/drained-2"] {
            assert!(object(&server, key) == data[..5000], "{key} ({link:?})");
        }
        let spool: Vec<_> = std::fs::read_dir(dir.join("spool")).unwrap().collect();
        assert!(spool.is_empty(), "the spools are removed: {spool:?}");
        assert!(!dir.join("unspooled").exists());
        assert!(server.object_bytes(BUCKET, "api/denied").is_none());
    }
}

#[test]
fn append_file_creates_resumes_and_continues_after_a_failure() {
    let server = start();
    let dir = scratch("append-file");
    for link in [Link::Dynamic, Link::Static] {
        let exe = compile(
            &dir,
            &format!("append_file-{link:?}"),
            &["examples-c/append_file.c"],
            link,
            true,
        );
        let key = format!("file-{link:?}");
        let target = format!("oss://{BUCKET}/{key}");
        let first = pattern(300_000, 3);
        let second = pattern(70_000, 9);
        std::fs::write(dir.join("first.bin"), &first).unwrap();
        std::fs::write(dir.join("second.bin"), &second).unwrap();

        // Create from a file, then append a second one to the same object (resume).
        let out = succeed(
            program(&exe, &server).args(["--request-size", "100000", "first.bin", &target]),
            None,
        );
        let crc = oss_protocol::crc64::checksum(&first);
        assert!(
            out.contains(&format!("{target} length=300000 crc64={crc}")),
            "{out}"
        );
        succeed(program(&exe, &server).args(["second.bin", &target]), None);
        let mut both = first.clone();
        both.extend_from_slice(&second);
        assert!(object(&server, &key) == both);

        // From standard input.
        succeed(
            program(&exe, &server).args(["-", &format!("{target}-stdin")]),
            Some(&second),
        );
        assert!(object(&server, &format!("{key}-stdin")) == second);
    }

    // A failure midway loses nothing: --continue sends exactly the rest.
    let exe = dir.join("append_file-Dynamic");
    let full = pattern(300_000, 5);
    std::fs::write(dir.join("full.bin"), &full).unwrap();
    std::fs::write(dir.join("part.bin"), &full[..100_000]).unwrap();
    let target = format!("oss://{BUCKET}/continued");
    succeed(program(&exe, &server).args(["part.bin", &target]), None);
    server.add_fault(Fault::new(Action::Error(503), Op::Append).count(3));
    let failed = run(
        program(&exe, &server).args(["-c", "--request-size", "100000", "full.bin", &target]),
        None,
    );
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("service throttled or unavailable") && stderr.contains("--continue"),
        "{stderr}"
    );
    assert!(object(&server, "continued") == full[..100_000]);
    succeed(
        program(&exe, &server).args(["-c", "--request-size", "100000", "full.bin", &target]),
        None,
    );
    assert!(object(&server, "continued") == full);

    // --continue refuses an object that is not the start of the file, and changes nothing.
    let refused = run(
        program(&exe, &server).args(["-c", "second.bin", &target]),
        None,
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("longer than second.bin"));
    assert!(object(&server, "continued") == full);
}

type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);

#[test]
fn append_file_explains_each_error() {
    let server = start();
    let dir = scratch("append-file-errors");
    let exe = compile(
        &dir,
        "append_file",
        &["examples-c/append_file.c"],
        Link::Dynamic,
        true,
    );
    std::fs::write(dir.join("data.bin"), b"hello").unwrap();
    // (environment changes, arguments, what stderr must say)
    let cases: [Case; 5] = [
        (
            &[("OSS_ACCESS_KEY_SECRET", "wrong")],
            &["data.bin", "oss://c-test/k"],
            "SignatureDoesNotMatch",
        ),
        (&[], &["data.bin", "oss://no-such-bucket/k"], "NoSuchBucket"),
        (
            &[("OSS_ACCESS_KEY_ID", "")],
            &["data.bin", "oss://c-test/k"],
            "OSS_ACCESS_KEY_ID",
        ),
        (&[], &["missing.bin", "oss://c-test/k"], "missing.bin"),
        // A size that once reached an allocation and aborted the program (exit 134).
        (
            &[],
            &[
                "--request-size",
                "1099511627776",
                "data.bin",
                "oss://c-test/k",
            ],
            "request size 1099511627776",
        ),
    ];
    for (env, args, expected) in cases {
        let mut cmd = program(&exe, &server);
        for (name, value) in env {
            cmd.env(name, value);
        }
        let output = run(cmd.args(args), None);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(
            !stderr.contains(SK) && !stderr.contains("wrong"),
            "a secret was printed: {stderr}"
        );
    }
    let usage = run(
        program(&exe, &server).args(["data.bin", "not-a-target"]),
        None,
    );
    assert_eq!(usage.status.code(), Some(2));
    assert!(server.object_bytes(BUCKET, "k").is_none());
}

#[test]
fn append_log_appends_whole_lines_as_they_come() {
    let server = start();
    let dir = scratch("append-log");
    for link in [Link::Dynamic, Link::Static] {
        let exe = compile(
            &dir,
            &format!("append_log-{link:?}"),
            &["examples-c/append_log.c"],
            link,
            true,
        );
        let key = format!("log-{link:?}");
        let lines: String = (0..2000)
            .map(|i| format!("{i:05} something happened\n"))
            .collect();
        let input = format!("{lines}no newline at the end");
        succeed(
            program(&exe, &server).args([
                "--flush-bytes",
                "4096",
                &format!("oss://{BUCKET}/{key}"),
            ]),
            Some(input.as_bytes()),
        );
        assert!(object(&server, &key) == input.as_bytes());
    }
}

#[test]
fn append_log_with_a_spool_loses_no_line_to_a_kill() {
    let server = start();
    let dir = scratch("append-log-spool");
    let exe = compile(
        &dir,
        "append_log",
        &["examples-c/append_log.c"],
        Link::Dynamic,
        true,
    );
    let target = format!("oss://{BUCKET}/log-spooled");
    let args = ["--flush-bytes", "4096", "--spool", "spool", &target];
    // Nothing is stored while the first run lives: every line it took is in the spool.
    server.add_fault(Fault::new(Action::Hold, Op::Append));
    let mut first = program(&exe, &server)
        .args(args)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines: String = (0..2000)
        .map(|i| format!("{i:05} something happened\n"))
        .collect();
    use std::io::Write;
    first
        .stdin
        .as_mut()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    // The last line in a spool file means all of them are: lines are spooled in order.
    let last = b"01999 something happened\n";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !spooled(&dir.join("spool"), last) {
        assert!(
            std::time::Instant::now() < deadline,
            "the lines never reached the spool"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    server.release_held(1);
    // The next run, with no input, uploads what the killed one spooled, and removes it.
    succeed(program(&exe, &server).args(args), Some(b""));
    assert!(object(&server, "log-spooled") == lines.as_bytes());
    assert_eq!(std::fs::read_dir(dir.join("spool")).unwrap().count(), 0);
}

/// Whether a file in `dir` holds `bytes`.
fn spooled(dir: &Path, bytes: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries
        .filter_map(|e| std::fs::read(e.unwrap().path()).ok())
        .any(|file| file.windows(bytes.len()).any(|w| w == bytes))
}

#[test]
fn cpp_example_appends_files_through_raii_wrappers() {
    let server = start();
    let dir = scratch("cpp");
    for link in [Link::Dynamic, Link::Static] {
        let exe = compile(
            &dir,
            &format!("append_files-{link:?}"),
            &["examples-c/cpp/append_files.cpp"],
            link,
            true,
        );
        let (a, b) = (pattern(50_000, 2), pattern(20_000, 4));
        std::fs::write(dir.join("a.bin"), &a).unwrap();
        std::fs::write(dir.join("b.bin"), &b).unwrap();
        let key = format!("cpp-{link:?}");
        let target = format!("oss://{BUCKET}/{key}");
        let out = succeed(
            program(&exe, &server).args([&target, "a.bin", "b.bin"]),
            None,
        );
        assert!(out.contains("length=70000"), "{out}");
        assert!(object(&server, &key) == [&a[..], &b[..]].concat());
        // An error becomes an exception with the status; the object keeps what was stored.
        let failed = run(program(&exe, &server).args([&target, "missing.bin"]), None);
        assert_eq!(failed.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&failed.stderr).contains("local I/O error"));
        // Sealed after the last file, the object takes no more appends.
        let sealed = format!("oss://{BUCKET}/{key}-sealed");
        let out = succeed(
            program(&exe, &server).args(["--seal", &sealed, "a.bin"]),
            None,
        );
        assert!(out.contains("length=50000"), "{out}");
        let failed = run(program(&exe, &server).args([&sealed, "b.bin"]), None);
        assert_eq!(failed.status.code(), Some(1));
        let said = String::from_utf8_lossy(&failed.stderr);
        assert!(said.contains("object is not appendable"), "{said}");
        assert!(object(&server, &format!("{key}-sealed")) == a);
        // --drain uploads what an appender that never closed left in its spool.
        let spool = dir.join(format!("spool-{link:?}"));
        leave_spool(&server, &spool, &format!("{key}-left"), &b);
        succeed(
            program(&exe, &server).args([
                "--drain",
                spool.to_str().unwrap(),
                &format!("{target}-after"),
                "a.bin",
            ]),
            None,
        );
        assert!(object(&server, &format!("{key}-left")) == b);
        assert!(object(&server, &format!("{key}-after")) == a);
        assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0);
    }
}

/// Leaves `data` in a spool under `dir` for `key`, as a process that crashed would: written
/// through a spooled appender that uploads nothing yet (an hour's delay, requests larger
/// than the data), dropped unclosed.
fn leave_spool(server: &Server, dir: &Path, key: &str, data: &[u8]) {
    use oss_append::{AppendOptions, Appender, BufferOptions, Client, SpoolSync};
    let client = Client::new(&common::client_config(server, AK, SK)).unwrap();
    let buffer = BufferOptions {
        max_delay: std::time::Duration::from_secs(3600),
        ..BufferOptions::spooled(dir, SpoolSync::None)
    };
    let options = AppendOptions {
        buffer: Some(buffer),
        ..AppendOptions::default()
    };
    let mut log = Appender::open(&client, BUCKET, key, options).unwrap();
    log.write(data).unwrap();
    drop(log);
}

#[test]
fn cpp_wrapper_rolls_streams_and_hands_callback_exceptions_to_the_caller() {
    let server = start();
    // tests/c/wrapper.cpp's faults: its first aged append held past the age limit, and every
    // attempt at the append right after one of its rolls failing.
    server.add_fault(
        Fault::new(
            Action::DelayBeforeApply(Duration::from_millis(200)),
            Op::Append,
        )
        .key("wrapper/aged-000000"),
    );
    server.add_fault(
        Fault::new(Action::Error(500), Op::Append)
            .key("wrapper/throws-000002")
            .count(3),
    );
    let dir = scratch("wrapper");
    let exe = compile(
        &dir,
        "wrapper",
        &["tests/c/wrapper.cpp"],
        Link::Dynamic,
        true,
    );
    passes(&exe, &server);
    // The stream rolled by size: objects of the lengths its callback was told, in key order
    // the bytes written.
    let rolled: Vec<Vec<u8>> = (0..6)
        .map(|n| object(&server, &format!("wrapper/roll-{n:06}")))
        .collect();
    let lengths: Vec<usize> = rolled.iter().map(Vec::len).collect();
    assert_eq!(lengths, [9, 5, 10, 10, 10, 7]);
    assert!(rolled.concat() == pattern(51, 5));
    for (n, bytes) in [b"abc", b"def", b"ghi"].into_iter().enumerate() {
        assert!(object(&server, &format!("wrapper/throws-{n:06}")) == bytes);
    }
}

#[test]
fn readme_c_quick_start_compiles_cleanly() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find("```c\n").expect("a C block in the README") + 5;
    let snippet = &readme[start..start + readme[start..].find("```").unwrap()];
    let (includes, body): (Vec<&str>, Vec<&str>) =
        snippet.lines().partition(|l| l.starts_with('#'));
    let dir = scratch("readme");
    let source = dir.join("quick_start.c");
    let program = format!(
        "{}\n#include <stdio.h>\nint main(void) {{\n{}\nreturn 0;\n}}\n",
        includes.join("\n"),
        body.join("\n")
    );
    std::fs::write(&source, program).unwrap();
    let exe = compile(
        &dir,
        "quick_start",
        &[source.to_str().unwrap()],
        Link::Dynamic,
        false,
    );
    assert!(exe.exists());
}

#[test]
fn append_file_under_valgrind_has_no_errors_and_no_leaks() {
    let server = start();
    let dir = scratch("valgrind");
    let exe = compile(
        &dir,
        "append_file",
        &["examples-c/append_file.c"],
        Link::Dynamic,
        false,
    );
    let data = pattern(1_000_000, 6);
    std::fs::write(dir.join("data.bin"), &data).unwrap();
    let mut cmd = valgrind(&server, &dir);
    cmd.arg(&exe).args([
        "--request-size",
        "300000",
        "data.bin",
        &format!("oss://{BUCKET}/valgrind"),
    ]);
    succeed(&mut cmd, None);
    assert!(object(&server, "valgrind") == data);
}

/// The server's faults for tests/c/lifetime.c: every request of the cases freed from another
/// thread is held 200 ms, so the free lands while the call is under way; one 503 makes a
/// retry for the log callback to see.
fn lifetime_server() -> Server {
    let server = start();
    for key in ["life/thread", "life/thread-buffered"] {
        server.add_fault(
            Fault::new(
                Action::DelayBeforeApply(Duration::from_millis(200)),
                Op::Append,
            )
            .key(key)
            .count(10),
        );
    }
    server.add_fault(Fault::new(Action::Error(503), Op::Append).key("life/log"));
    server
}

/// What tests/c/lifetime.c leaves in each object: what landed before each free, whole.
fn check_lifetime_objects(server: &Server) {
    let data = pattern(20_000, 3);
    for (key, len) in [
        ("life/progress", 1000),
        ("life/read", 3000),
        ("life/upload", 4096),
        ("life/log", 1000),
        ("life/credentials", 500),
    ] {
        let stored = object(server, key);
        assert!(stored == data[..len], "{key}: {} bytes", stored.len());
    }
    // Freed while requests were held: some whole requests landed, never all ten.
    for key in ["life/thread", "life/thread-buffered"] {
        let stored = object(server, key);
        assert!(
            !stored.is_empty() && stored.len() < 10_000 && stored.len().is_multiple_of(1000),
            "{key}: {} bytes",
            stored.len()
        );
        assert!(stored == data[..stored.len()], "{key}");
    }
}

#[test]
fn handles_freed_during_their_own_calls_are_released_after_them_under_asan() {
    let server = lifetime_server();
    let dir = scratch("lifetime");
    let exe = compile(
        &dir,
        "lifetime",
        &["tests/c/lifetime.c"],
        Link::Dynamic,
        true,
    );
    passes(&exe, &server);
    check_lifetime_objects(&server);
}

#[test]
fn handles_freed_during_their_own_calls_are_released_after_them_under_valgrind() {
    let server = lifetime_server();
    let dir = scratch("lifetime-valgrind");
    let exe = compile(
        &dir,
        "lifetime",
        &["tests/c/lifetime.c"],
        Link::Dynamic,
        false,
    );
    let mut cmd = valgrind(&server, &dir);
    cmd.arg(&exe).arg(server.url()).arg(BUCKET);
    let out = succeed(&mut cmd, None);
    assert!(out.contains("all passed"), "{out}");
    check_lifetime_objects(&server);
}
