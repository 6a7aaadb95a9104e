//! Generates the C header from src/ffi/ with cbindgen, and gives the shared library its
//! SONAME. The header is written to OUT_DIR, never into the source tree: `make header`
//! copies it to include/, and tests/c_abi.rs fails when the committed one differs.

use std::env;
use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("oss_append.h");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("src/ffi/ is parseable by cbindgen")
        .write_to_file(&out);
    println!(
        "cargo:rustc-env=OSS_APPEND_GENERATED_HEADER={}",
        out.display()
    );
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    // Binaries linked against liboss_append.so record liboss_append.so.0, so an
    // incompatible future release (a new major) can be installed beside this one.
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,liboss_append.so.{major}");
    }
}
