//! `devserver`: run the whole platform locally. See the README for its variables.

use std::io::Write;

use basics::Env;
use basics::config::exit_on_error;
use devserver::{DevServerConfig, shutdown_signal, start};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = exit_on_error(DevServerConfig::from_env(&Env::process()));
    basics::telemetry::init();
    let running = match start(&config, config.port.0, shutdown_signal()).await {
        Ok(running) => running,
        Err(err) => {
            eprintln!("devserver: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let backend = match config.backend.kind {
        backend::BackendKind::Embedded => {
            format!("embedded, data in {}", config.backend.data_dir.display())
        }
        backend::BackendKind::Aws => match &config.backend.aws.endpoint_url {
            Some(endpoint) => format!("aws at {endpoint}"),
            None => "aws".to_string(),
        },
    };
    println!(
        "PyAirtable platform on http://{} ({backend})",
        running.address
    );
    println!("  try: curl http://{}/v1/health", running.address);
    match running.task.await {
        Ok(Ok(())) => {
            say("devserver stopped");
            std::process::ExitCode::SUCCESS
        }
        Ok(Err(err)) => {
            eprintln!("devserver: {err}");
            std::process::ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("devserver: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Prints a line for the user; a closed stdout (a pipe whose reader left) is not a reason to
/// stop serving.
fn say(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}
