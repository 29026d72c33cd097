//! Regenerates `include/vmsystem.h` from the crate's `extern "C"` items with cbindgen.
//! The header is committed; `test.sh` fails when a build changes it.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate include/vmsystem.h")
        .write_to_file(dir.join("include/vmsystem.h"));
}
