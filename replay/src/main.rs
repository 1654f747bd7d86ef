//! `aivm`: the audit command line. See `aivm --help` and `aivm_replay::cli`.

fn main() -> std::process::ExitCode {
    let code = aivm_replay::cli::main_exit();
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
