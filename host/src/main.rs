//! `alga-wf`: see `alga-wf --help`.

fn main() -> std::process::ExitCode {
    alga_wf::cli::main()
}
