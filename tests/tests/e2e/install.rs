//! An installed binary carries its own interpreter module: `alga-wf`, copied alone to a folder
//! and run from another with a fresh home, validates, simulates and serves a worker with no flag
//! or variable naming a component, and caches the module's compiled form in the user's cache
//! directory.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{self, temporal};

/// The copied binary, run from `cwd` with nothing of the build tree in its environment.
fn installed(binary: &Path, cwd: &Path, home: &Path) -> Command {
    let mut command = Command::new(binary);
    command
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("ALGA_WF_LOG", "warn");
    command
}

#[test]
fn the_binary_alone_validates_simulates_and_runs_a_worker() {
    let install = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let binary = install.path().join("alga-wf");
    std::fs::copy(common::binary(), &binary).expect("the binary copies");
    let examples = common::root().join("examples/hello");
    let definition = examples.join("definition.json");

    let validate = installed(&binary, elsewhere.path(), home.path())
        .args(["validate", "--test-actions"])
        .arg(&definition)
        .output()
        .unwrap();
    assert!(
        validate.status.success(),
        "validate: {}",
        String::from_utf8_lossy(&validate.stderr)
    );
    // The embedded module's compiled form went to the user's cache directory.
    let cache = home.path().join(".cache/alga-wf");
    let cached: Vec<_> = std::fs::read_dir(&cache)
        .unwrap_or_else(|e| panic!("{}: {e}", cache.display()))
        .filter_map(Result::ok)
        .filter(|f| f.path().extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(
        cached.len(),
        1,
        "one compiled module in {}",
        cache.display()
    );

    // Without --test-actions the doubles do not exist: production validation refuses them.
    let production = installed(&binary, elsewhere.path(), home.path())
        .arg("validate")
        .arg(&definition)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&production.stdout);
    assert!(!production.status.success(), "{stdout}");
    assert!(stdout.contains("UNKNOWN_ACTION"), "{stdout}");

    let simulate = installed(&binary, elsewhere.path(), home.path())
        .arg("simulate")
        .arg(examples.join("scenario.json"))
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&simulate.stdout).unwrap_or_else(|e| {
        panic!(
            "simulate printed no report ({e}): {}",
            String::from_utf8_lossy(&simulate.stderr)
        )
    });
    assert_eq!(report["status"], "SUCCEEDED", "{report:#}");

    // A worker and a run through it, on a private Temporal.
    let server = temporal::DevServer::start();
    let queue = format!("installed-{}", std::process::id());
    let _worker = temporal::Process(
        installed(&binary, elsewhere.path(), home.path())
            .args(["worker", "--test-actions", "--server", &server.address])
            .args(["--task-queue", &queue])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the installed worker starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let run = loop {
        let out = installed(&binary, elsewhere.path(), home.path())
            .arg("run")
            .arg(&definition)
            .args(["--payload", r#"{"name": "Ada"}"#])
            .args(["--server", &server.address, "--task-queue", &queue])
            .output()
            .unwrap();
        if out.status.success() {
            break serde_json::from_slice::<Value>(&out.stdout).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "run never succeeded: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    assert_eq!(run["status"], "SUCCEEDED", "{run:#}");
    assert_eq!(
        run["scopes"]["vars"]["greeting"]["value"], "Hello, Ada",
        "{run:#}"
    );
}
