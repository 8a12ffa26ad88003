//! Faults the system must ride out: a dependency that goes away and comes back.

use std::time::{Duration, Instant};

use crate::api::{Api, create_key};
use crate::common::temporal::System;

const TENANT: &str = "7c000000-0000-4000-8000-0000000000a1";

/// While the database is away the API says so within seconds, with `Retry-After` (not after
/// sqlx's 30 s default), and it serves again once the database is back.
#[test]
fn a_database_outage_is_a_prompt_503_and_passes() {
    let dir = tempfile::tempdir().unwrap();
    let system = System::start(dir.path());
    let api = Api::start(&system);
    let admin = create_key(&system, TENANT, "admin");
    assert_eq!(
        api.call("GET", "/api/workflow-runs", Some(&admin), None).0,
        200
    );
    system.database.stop();
    let asked = Instant::now();
    let (status, body) = api.call("GET", "/api/workflow-runs", Some(&admin), None);
    let waited = asked.elapsed();
    assert_eq!(status, 503, "{body:#}");
    assert_eq!(body["error"], "DATABASE_UNAVAILABLE", "{body:#}");
    // The pool gives up after 3 s; 15 s leaves a slow machine room and is still half of the
    // 30 s an API call used to hang.
    assert!(waited < Duration::from_secs(15), "the 503 took {waited:?}");
    let (status, retry_after) = api.retry_after("/api/workflow-runs", &admin);
    assert_eq!((status, retry_after.as_deref()), (503, Some("2")));
    system.database.start_again();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _) = api.call("GET", "/api/workflow-runs", Some(&admin), None);
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the API never recovered: {status}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
