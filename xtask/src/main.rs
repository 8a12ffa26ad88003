//! Build tasks. `cargo run -p xtask -- build-interpreter` compiles the interpreter guest for
//! `wasm32-unknown-unknown`, turns the core module into a component with `wit-component`, checks
//! that it imports nothing but our own interface, and writes it to
//! `target/wasm/alga_interpreter.component.wasm`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Interfaces the component may import.
const ALLOWED_IMPORT_PREFIX: &str = "alga:workflow/";

fn main() -> Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    match task.as_str() {
        "build-interpreter" => build_interpreter(),
        other => bail!("unknown task `{other}` (tasks: build-interpreter)"),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn build_interpreter() -> Result<()> {
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--locked",
            "-p",
            "alga-interpreter-component",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            "wasm",
        ])
        .status()
        .context("running cargo for the interpreter guest")?;
    if !status.success() {
        bail!("the interpreter guest did not build");
    }
    let core_path = root.join("target/wasm32-unknown-unknown/wasm/alga_interpreter_component.wasm");
    let core =
        std::fs::read(&core_path).with_context(|| format!("reading {}", core_path.display()))?;
    let component = wit_component::ComponentEncoder::default()
        .module(&core)
        .context("reading the core module's embedded component type")?
        .validate(true)
        .encode()
        .context("encoding the component")?;
    let imports = component_imports(&component)?;
    let foreign: Vec<&String> = imports
        .iter()
        .filter(|name| !name.starts_with(ALLOWED_IMPORT_PREFIX))
        .collect();
    if !foreign.is_empty() {
        bail!("the component imports more than our interface: {foreign:?}");
    }
    let out_dir = root.join("target/wasm");
    std::fs::create_dir_all(&out_dir)?;
    let out = out_dir.join("alga_interpreter.component.wasm");
    std::fs::write(&out, &component).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "interpreter component: {} ({} bytes, blake3 {}), imports {:?}",
        out.display(),
        component.len(),
        blake3::hash(&component).to_hex(),
        imports
    );
    Ok(())
}

/// The names of the interfaces the component imports.
fn component_imports(component: &[u8]) -> Result<Vec<String>> {
    match wit_component::decode(component).context("decoding the component")? {
        wit_component::DecodedWasm::Component(resolve, world) => Ok(resolve.worlds[world]
            .imports
            .keys()
            .map(|key| resolve.name_world_key(key))
            .collect()),
        wit_component::DecodedWasm::WitPackage(..) => {
            bail!("expected a component, found a WIT package")
        }
    }
}
