//! The action ledger against a real PostgreSQL: a claim that outlives its lease is taken over,
//! its first owner cannot settle or renew it afterwards, a renewed claim is not taken over, and
//! keys are the tenant's own.

use alga_wf::store::{Claim, LedgerEntry, Store};
use serde_json::json;

use crate::common::postgres::Postgres;

const TENANT: &str = "1ed9e000-0000-4000-8000-0000000000a1";
const OTHER: &str = "1ed9e000-0000-4000-8000-0000000000b2";
const RUN: &str = "1ed9e000-1111-4000-8000-000000000001";

fn entry(tenant: &str, owner: &str, lease_ms: u64) -> LedgerEntry {
    LedgerEntry {
        tenant: Some(tenant.parse().unwrap()),
        run_id: RUN.into(),
        step_path: "root.steps[0]".into(),
        action_id: "test.echo".into(),
        action_version: 1,
        idempotency_key: "shared-key".into(),
        input: json!({"value": 1}),
        owner: owner.into(),
        lease_ms,
    }
}

#[test]
fn a_lapsed_claim_is_taken_over_and_its_first_owner_cannot_settle_it() {
    let database = Postgres::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = runtime.block_on(Store::connect(&database.url)).unwrap();
    database.sql(&format!(
        "INSERT INTO workflow_definitions (workflow_id, tenant, name, payload_schema_ref,
             draft_definition)
         VALUES ('{RUN}', '{TENANT}', 'w', 'p', '{{}}');
         INSERT INTO workflow_runs (run_id, tenant, workflow_id, workflow_version, status)
         VALUES ('{RUN}', '{TENANT}', '{RUN}', 1, 'RUNNING');"
    ));

    // The first attempt's claim lapses (a 1 ms lease) while its action still runs; a second
    // attempt takes the invocation over.
    let first = entry(TENANT, "first", 1);
    assert_eq!(
        runtime.block_on(store.claim(&first)).unwrap(),
        Claim::Run { attempt: 1 }
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    let second = entry(TENANT, "second", 60_000);
    assert_eq!(
        runtime.block_on(store.claim(&second)).unwrap(),
        Claim::Run { attempt: 2 }
    );
    // The first owner's late outcome is refused; the owner's is the ledger's.
    let late = json!({"from": "first"});
    assert!(!runtime.block_on(store.settle(&first, Ok(&late))).unwrap());
    let owned = json!({"from": "second"});
    assert!(runtime.block_on(store.settle(&second, Ok(&owned))).unwrap());
    assert_eq!(
        runtime
            .block_on(store.claim(&entry(TENANT, "third", 60_000)))
            .unwrap(),
        Claim::Reuse(owned)
    );

    // A claim renewed while its action runs is not taken over: the lease counts from the last
    // renewal, not from the claim.
    let mut renewed = entry(TENANT, "renewing", 2_000);
    renewed.idempotency_key = "renewed-key".into();
    assert_eq!(
        runtime.block_on(store.claim(&renewed)).unwrap(),
        Claim::Run { attempt: 1 }
    );
    std::thread::sleep(std::time::Duration::from_millis(1_200));
    assert!(runtime.block_on(store.renew(&renewed)).unwrap());
    std::thread::sleep(std::time::Duration::from_millis(1_200));
    let mut rival = entry(TENANT, "rival", 60_000);
    rival.idempotency_key = "renewed-key".into();
    assert_eq!(
        runtime.block_on(store.claim(&rival)).unwrap(),
        Claim::Busy {
            owner: "renewing".into()
        },
        "2.4 s after a 2 s claim, renewed at 1.2 s"
    );
    assert!(
        runtime
            .block_on(store.settle(&renewed, Ok(&json!({}))))
            .unwrap()
    );
    // A claim taken over cannot be renewed.
    assert!(!runtime.block_on(store.renew(&first)).unwrap());

    // The same action and key of another tenant never reaches this tenant's row.
    assert_eq!(
        runtime
            .block_on(store.claim(&entry(OTHER, "stranger", 60_000)))
            .unwrap(),
        Claim::Unledgered
    );
}
