//! `forkwire-sidecar`: see `--help`.

use forkwire_nats::sidecar::{self, args};
use std::process::ExitCode;

fn main() -> ExitCode {
    let options = match args::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(text) if text == args::USAGE => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(text) => {
            eprintln!("forkwire-sidecar: {text}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("forkwire-sidecar: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(sidecar::run(options, sidecar::termination())) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("forkwire-sidecar: {e}");
            ExitCode::FAILURE
        }
    }
}
