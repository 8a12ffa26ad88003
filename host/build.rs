//! Compiles the descriptors of Temporal's `History` message from the protos that ship with
//! `temporalio-protos`, so `alga-wf replay` can read proto-JSON histories (what
//! `temporal workflow show -o json` prints) with prost-reflect.

use std::path::{Path, PathBuf};
use std::process::Command;

fn protos_dir() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest =
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("Cargo.toml");
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
        ])
        .arg(&manifest)
        // Only this target's packages: the others need not be downloaded.
        .args([
            "--filter-platform",
            &std::env::var("TARGET").expect("set by cargo"),
        ])
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let package = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "temporalio-protos")
        .expect("temporalio-protos is a dependency");
    Path::new(package["manifest_path"].as_str().expect("a manifest path"))
        .parent()
        .expect("a package directory")
        .join("protos")
}

fn main() {
    let protos = protos_dir();
    let descriptors = protox::compile(
        ["temporal/api/history/v1/message.proto"],
        [protos.join("api_upstream"), protos.clone()],
    )
    .expect("Temporal's history protos compile");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    std::fs::write(
        out.join("history_descriptors.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )
    .expect("OUT_DIR is writable");
    println!("cargo:rerun-if-changed=build.rs");
}
