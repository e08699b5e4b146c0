fn main() -> std::process::ExitCode {
    rpycbench::__cli_main()
}
