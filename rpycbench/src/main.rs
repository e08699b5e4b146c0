fn main() -> std::process::ExitCode {
    rpycbench::cli::main()
}
