//! Every saved fuzz input replays through its target: the crashes the fuzzers found
//! (`regressions/<target>/`), and the seed corpus, which must hold every property too (and
//! which this test writes for `scripts/fuzz`).

use std::path::Path;

use alga_wf_fuzzing::{seeds, targets};

fn target(name: &str) -> fn(&[u8]) {
    match name {
        "definition" => targets::definition,
        "expression" => targets::expression,
        "activations" => targets::activations,
        "differential" => targets::differential,
        other => panic!("regressions/{other}: no such fuzz target"),
    }
}

#[test]
fn saved_crashes_replay_without_failing() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut replayed = 0;
    for group in std::fs::read_dir(&dir)
        .expect("regressions/ exists")
        .flatten()
    {
        let name = group.file_name().to_string_lossy().into_owned();
        if !group.path().is_dir() {
            continue;
        }
        let run = target(&name);
        for input in std::fs::read_dir(group.path()).expect("readable").flatten() {
            let bytes = std::fs::read(input.path()).expect("readable");
            eprintln!("replaying {}", input.path().display());
            run(&bytes);
            replayed += 1;
        }
    }
    eprintln!("{replayed} saved inputs replayed");
}

/// Writes the seed corpus to `target/fuzz-seeds/` (where `scripts/fuzz` starts from) and runs
/// every seed through its target.
#[test]
fn the_seed_corpus_holds_every_property() {
    let dir = seeds::project_root().join("target/fuzz-seeds");
    let _ = std::fs::remove_dir_all(&dir);
    let written = seeds::write_corpus(&dir).expect("corpus written");
    assert!(written > 50, "only {written} seeds");
    for target_name in ["definition", "expression", "activations", "differential"] {
        let run = target(target_name);
        let mut count = 0;
        for input in std::fs::read_dir(dir.join(target_name))
            .expect("target dir")
            .flatten()
        {
            run(&std::fs::read(input.path()).expect("readable"));
            count += 1;
        }
        assert!(count > 0, "no seeds for {target_name}");
    }
}
