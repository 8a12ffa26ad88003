//! Build tasks. `cargo run -p xtask -- build-interpreter` compiles the interpreter guest for
//! `wasm32-unknown-unknown`, turns the core module into a component with `wit-component`, checks
//! that it imports nothing but our own interface, and writes it to
//! `target/wasm/alga_interpreter.component.wasm` (`--out PATH` elsewhere; `--features F` builds
//! the guest with features, e.g. the tests' `probe-semantics`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Interfaces the component may import.
const ALLOWED_IMPORT_PREFIX: &str = "alga:workflow/";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().cloned().unwrap_or_default();
    let option = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    match task.as_str() {
        "build-interpreter" => build_interpreter(option("--features"), option("--out")),
        other => bail!("unknown task `{other}` (tasks: build-interpreter)"),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Builds the component; `features` of the guest crate (tests build a probe semantics with
/// them) and `out` (default `target/wasm/alga_interpreter.component.wasm`) are optional.
fn build_interpreter(features: Option<String>, out: Option<String>) -> Result<()> {
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(&root).args([
        "build",
        "--locked",
        "-p",
        "alga-interpreter-component",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        "wasm",
    ]);
    if let Some(features) = &features {
        command.args(["--features", features]);
    }
    let status = command
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
    let out = match out {
        Some(path) => PathBuf::from(path),
        None => root.join("target/wasm/alga_interpreter.component.wasm"),
    };
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
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
