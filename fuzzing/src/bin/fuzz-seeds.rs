//! Writes the fuzz targets' starting corpus: `fuzz-seeds DIR` fills `DIR/<target>/`.

fn main() -> std::process::ExitCode {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: fuzz-seeds DIR");
        return std::process::ExitCode::from(2);
    };
    match alga_wf_fuzzing::seeds::write_corpus(std::path::Path::new(&dir)) {
        Ok(count) => {
            println!(
                "{count} seed inputs written under {}",
                dir.to_string_lossy()
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "fuzz-seeds: cannot write under {}: {e}",
                dir.to_string_lossy()
            );
            std::process::ExitCode::FAILURE
        }
    }
}
