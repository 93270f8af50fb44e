fn main() -> std::process::ExitCode {
    clvmd_rs::main_from_args(std::env::args_os())
}
