//! Generates the C header from src/ffi/ with cbindgen, and gives the shared library its
//! SONAME and symbol versions. The header is written to OUT_DIR, never into the source tree:
//! `make header` copies it to include/, and tests/c_abi.rs fails when the committed one
//! differs.

use std::env;
use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("oss_append.h");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    let version = |part: &str| -> u32 {
        env::var(format!("CARGO_PKG_VERSION_{part}"))
            .unwrap()
            .parse()
            .unwrap()
    };
    let (major, minor, patch) = (version("MAJOR"), version("MINOR"), version("PATCH"));
    // oss_version_number() packs the version as major * 1000000 + minor * 1000 + patch.
    assert!(
        minor < 1000 && patch < 1000,
        "the version number scheme needs a minor and a patch below 1000"
    );
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        // After with_config, which replaces the whole configuration.
        .with_config(config)
        .with_after_include(format!(
            "\n/**\n * The version of this header (the library's when it was made); the running library\n \
             * may be newer, as `oss_version` and `oss_version_number` tell. The number is\n \
             * major * 1000000 + minor * 1000 + patch.\n */\n\
             #define OSS_APPEND_VERSION_MAJOR {major}\n\
             #define OSS_APPEND_VERSION_MINOR {minor}\n\
             #define OSS_APPEND_VERSION_PATCH {patch}\n\
             #define OSS_APPEND_VERSION_NUMBER {number}\n",
            number = major * 1_000_000 + minor * 1000 + patch
        ))
        .generate()
        .expect("src/ffi/ is parseable by cbindgen")
        .write_to_file(&out);
    println!(
        "cargo:rustc-env=OSS_APPEND_GENERATED_HEADER={}",
        out.display()
    );
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        // Binaries linked against liboss_append.so record liboss_append.so.1, so an
        // incompatible future release (a new major) can be installed beside this one.
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,liboss_append.so.{major}");
        // Every export gets the version node liboss_append.so.<major>, which programs
        // record with each symbol, so two majors loaded in one process (by two plugins)
        // each serve their own callers. Not by a version script: rustc passes one with an
        // anonymous node, which GNU ld refuses to combine with a named one, and under lld
        // the anonymous node wins and every export stays unversioned (a warning cargo does
        // not show). Not by `.symver` in the objects: liboss_append.a would carry the
        // versioned names and fail to link into a shared object that does not define the
        // node. GNU ld's --default-symver works beside rustc's script and changes nothing
        // else; lld (rustc's default since 1.90) has no such option, hence bfd.
        println!("cargo:rustc-cdylib-link-arg=-fuse-ld=bfd");
        println!("cargo:rustc-cdylib-link-arg=-Wl,--default-symver");
    }
}
