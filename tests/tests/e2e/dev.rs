//! `alga-wf dev`: one command starts the whole system (a Temporal dev server, PostgreSQL, the
//! worker and the API); a run goes through the API; the README's tour runs exactly as written;
//! Ctrl-C stops it; a second start finds the same tenant, key and runs.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common;
use crate::common::temporal::free_port;

struct Dev {
    child: Child,
    info: Value,
}

impl Dev {
    /// Starts on free ports: a port picked free can be taken by another test's server before
    /// this system binds it, so a start that fails is tried again on other ports.
    fn start_on_free_ports(data: &std::path::Path) -> (Dev, [u16; 4]) {
        for _ in 0..2 {
            let ports = [free_port(), free_port(), free_port(), free_port()];
            if let Some(dev) = Dev::try_start(data, ports) {
                return (dev, ports);
            }
            eprintln!("alga-wf dev did not start on {ports:?}; trying other ports");
        }
        let ports = [free_port(), free_port(), free_port(), free_port()];
        (Dev::start(data, ports), ports)
    }

    fn start(data: &std::path::Path, ports: [u16; 4]) -> Dev {
        Dev::try_start(data, ports).expect("alga-wf dev prints where everything is")
    }

    fn try_start(data: &std::path::Path, ports: [u16; 4]) -> Option<Dev> {
        let mut child = Command::new(common::binary())
            .args(["dev", "--data", data.to_str().unwrap()])
            .args(["--api-port", &ports[0].to_string()])
            .args(["--temporal-port", &ports[1].to_string()])
            .args(["--postgres-port", &ports[2].to_string()])
            .args(["--redis-port", &ports[3].to_string()])
            // What scripts/run passes.
            .args(["--stand-ins", "examples/triage/stand-ins.json"])
            .current_dir(common::root())
            .env("ALGA_WF_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("alga-wf dev starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("alga-wf dev's output is readable");
        if line.is_empty() {
            // It exited without starting (it said why on stderr).
            let _ = child.wait();
            return None;
        }
        let info: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        Some(Dev { child, info })
    }

    /// Ctrl-C, then the exit status.
    fn stop(mut self) -> bool {
        self.interrupt()
    }

    fn interrupt(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("{}{path}", self.info["api"].as_str().unwrap());
        let key = self.info["apiKey"].as_str().unwrap();
        let response = match (method, body) {
            ("POST", Some(body)) => agent.post(url).header("x-api-key", key).send_json(body),
            _ => agent.get(url).header("x-api-key", key).call(),
        };
        let mut response = response.expect("the API answers");
        let status = response.status().as_u16();
        (
            status,
            response.body_mut().read_json().unwrap_or(Value::Null),
        )
    }
}

impl Drop for Dev {
    /// A failing test still stops the system (and with it Temporal and PostgreSQL).
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.interrupt();
        }
    }
}

#[test]
fn dev_starts_a_working_system_and_keeps_its_data() {
    let data = tempfile::tempdir().unwrap();
    let (dev, ports) = Dev::start_on_free_ports(data.path());
    assert!(dev.info["temporalUi"].is_string(), "{:#}", dev.info);
    // Temporal keeps closed runs' histories as long as the store keeps their rows (30 days).
    let described = Command::new(std::env::var("TEMPORAL_BIN").unwrap())
        .args([
            "operator",
            "namespace",
            "describe",
            "--namespace",
            "default",
        ])
        .args([
            "--address",
            &format!("127.0.0.1:{}", ports[1]),
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    let described: Value = serde_json::from_slice(&described.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&described.stderr)));
    assert_eq!(
        described["config"]["workflowExecutionRetentionTtl"], "2592000s",
        "{described:#}"
    );

    let hello: Value = serde_json::from_slice(
        &std::fs::read(common::root().join("examples/hello/definition.json")).unwrap(),
    )
    .unwrap();
    let (status, body) = dev.call(
        "POST",
        "/api/workflow-definitions/publish",
        Some(&json!({"definition": hello})),
    );
    assert_eq!(status, 201, "{body:#}");
    let (status, body) = dev.call(
        "POST",
        "/api/workflow-runs",
        Some(&json!({"workflowId": "hello", "payload": {"name": "Ada"}})),
    );
    assert_eq!(status, 201, "{body:#}");
    let run = body["runId"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = dev.call("GET", &format!("/api/workflow-runs/{run}"), None);
        if body["status"] == "SUCCEEDED" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the run never finished: {body:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let tour_run = run_the_readme_tour(&dev, data.path());
    let key = dev.info["apiKey"].clone();
    assert!(dev.stop(), "Ctrl-C stops the dev system cleanly");

    let dev = Dev::start(data.path(), ports);
    assert_eq!(dev.info["apiKey"], key, "the same key after a restart");
    let (status, body) = dev.call("GET", &format!("/api/workflow-runs/{run}"), None);
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["status"], "SUCCEEDED");
    let (_, body) = dev.call("GET", &format!("/api/workflow-runs/{tour_run}"), None);
    assert_eq!(body["status"], "SUCCEEDED", "{body:#}");
    assert!(dev.stop());
}

/// The shell blocks of the README's tour (fenced as `sh tour`), run in order by bash in the
/// repository with `API` and `DATA` pointing at this system. Returns the tour's run id.
fn run_the_readme_tour(dev: &Dev, data: &std::path::Path) -> String {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let mut script = String::from("set -euo pipefail\n");
    let mut blocks = 0;
    let mut inside = false;
    for line in readme.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            inside = !inside && trimmed == "```sh tour";
            blocks += usize::from(inside);
            continue;
        }
        if inside {
            script.push_str(trimmed);
            script.push('\n');
        }
    }
    assert!(blocks >= 5, "the README's tour has {blocks} blocks");
    script.push_str("echo \"TOUR_RUN=$RUN\"\n");
    let out = Command::new("timeout")
        .args(["180", "bash", "-c", &script])
        .current_dir(common::root())
        .env("API", dev.info["api"].as_str().unwrap())
        .env("REDIS", dev.info["redis"].as_str().unwrap())
        .env("DATA", data)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the tour failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("TASK_RESPONSE_INVALID"),
        "the wrong answer was refused: {stdout}"
    );
    assert!(stdout.contains("run.succeeded"), "{stdout}");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("TOUR_RUN="))
        .unwrap_or_else(|| panic!("{stdout}"))
        .to_owned()
}

/// The process id of the dev system's child whose command line holds `pattern`.
fn child_of(dev: &Dev, pattern: &str) -> String {
    let out = Command::new("pgrep")
        .args(["-P", &dev.child.id().to_string(), "-f", pattern])
        .output()
        .expect("pgrep runs");
    let pids = String::from_utf8_lossy(&out.stdout);
    pids.lines()
        .next()
        .unwrap_or_else(|| panic!("no child of alga-wf dev matches `{pattern}`"))
        .to_owned()
}

/// Starts the hello workflow through the API and waits for it to succeed (90 s at most: the
/// worker may still be reconnecting).
fn hello_succeeds(dev: &Dev) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let run = loop {
        let (status, body) = dev.call(
            "POST",
            "/api/workflow-runs",
            Some(&json!({"workflowId": "hello", "payload": {"name": "Ada"}})),
        );
        if status == 201 {
            break body["runId"].as_str().unwrap().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no run could start: {status} {body:#}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    loop {
        let (_, body) = dev.call("GET", &format!("/api/workflow-runs/{run}"), None);
        if body["status"] == "SUCCEEDED" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the run never finished: {body:#}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A child that dies is noticed and started again on the same data: Temporal killed, then
/// PostgreSQL, then Redis, and the system serves runs again each time.
#[test]
fn dev_starts_a_dead_child_again() {
    let data = tempfile::tempdir().unwrap();
    let (dev, _) = Dev::start_on_free_ports(data.path());
    let hello: Value = serde_json::from_slice(
        &std::fs::read(common::root().join("examples/hello/definition.json")).unwrap(),
    )
    .unwrap();
    let (status, body) = dev.call(
        "POST",
        "/api/workflow-definitions/publish",
        Some(&json!({"definition": hello})),
    );
    assert_eq!(status, 201, "{body:#}");
    hello_succeeds(&dev);

    for pattern in ["start-dev", "postgres", "redis-server"] {
        let pid = child_of(&dev, pattern);
        let killed = Command::new("kill").args(["-KILL", &pid]).status();
        assert!(killed.is_ok_and(|s| s.success()), "kill -KILL {pid}");
        std::thread::sleep(Duration::from_secs(2));
        let again = child_of(&dev, pattern);
        assert_ne!(again, pid, "{pattern} was started again with a new process");
        hello_succeeds(&dev);
    }
    assert!(dev.stop(), "Ctrl-C still stops the system cleanly");
}
