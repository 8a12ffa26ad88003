//! Hands the host two build-time inputs, neither of which asks cargo, the network or anything
//! outside the build's own inputs:
//!
//! - Temporal's protobuf descriptors, which `alga-wf replay` needs to read proto-JSON histories
//!   (what `temporal workflow show -o json` prints) with prost-reflect. `temporalio-protos`
//!   already compiles them for its own code generation and publishes their path through its
//!   `links` metadata (`cargo:descriptor_path`), which cargo passes to direct dependents as
//!   `DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH`. An earlier version ran `cargo metadata --offline`
//!   to find the proto sources, which failed on machines whose registry cache held only what
//!   the build had downloaded.
//! - The interpreter component to embed, so an installed binary carries its own module (see
//!   `host/src/embedded.rs`): `$ALGA_WF_EMBED_COMPONENT`, else the workspace's build tree
//!   (`target/wasm/alga_interpreter.component.wasm`, written by `scripts/build`). A build without
//!   one still works; the binary then needs `--interpreter` or a modules directory.

use std::path::{Path, PathBuf};

const EMBED_ENV: &str = "ALGA_WF_EMBED_COMPONENT";

fn main() {
    let descriptors = std::env::var("DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH")
        .expect("temporalio-protos publishes its descriptor set (links = \"temporalio_protos\")");
    println!("cargo:rerun-if-changed={descriptors}");
    println!("cargo:rustc-env=ALGA_WF_TEMPORAL_DESCRIPTORS={descriptors}");

    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed={EMBED_ENV}");
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let component = match std::env::var_os(EMBED_ENV) {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            let in_tree = manifest_dir.join("../target/wasm/alga_interpreter.component.wasm");
            // Watch the file even while it is missing, so building the component later
            // rebuilds the host with it.
            println!("cargo:rerun-if-changed={}", in_tree.display());
            in_tree.exists().then_some(in_tree)
        }
    };
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let embedded = out.join("embedded_component.wasm");
    match component {
        Some(path) => {
            println!("cargo:rerun-if-changed={}", path.display());
            copy(&path, &embedded);
            println!("cargo:rustc-cfg=alga_wf_embedded");
        }
        None => {
            println!(
                "cargo:warning=no interpreter component to embed (run scripts/build first, or set \
                 {EMBED_ENV}); this alga-wf needs --interpreter"
            );
            // An empty file keeps `include_bytes!` valid; the cfg says there is no module.
            std::fs::write(&embedded, []).expect("OUT_DIR is writable");
        }
    }
    println!("cargo:rustc-check-cfg=cfg(alga_wf_embedded)");
}

fn copy(from: &Path, to: &Path) {
    if let Err(e) = std::fs::copy(from, to) {
        panic!(
            "cannot embed the interpreter component {}: {e}",
            from.display()
        );
    }
}
