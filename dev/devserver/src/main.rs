//! `devserver`: run the whole platform locally. See the README for its variables.

use std::io::Write;

use basics::Env;
use basics::config::exit_on_error;
use devserver::{DevServerConfig, Running, shutdown_signal, start};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = exit_on_error(DevServerConfig::from_env(&Env::process()));
    basics::telemetry::init();
    let running = match start(&config, shutdown_signal()).await {
        Ok(running) => running,
        Err(err) => {
            eprintln!("devserver: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    say(&banner(&config, &running));
    match running.wait().await {
        Ok(()) => {
            say("devserver stopped");
            std::process::ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("devserver: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// What a new user needs to start: where the API is, and how to reach Airtable.
fn banner(config: &DevServerConfig, running: &Running) -> String {
    let backend = match config.backend.kind {
        platform::BackendKind::Embedded => {
            format!("embedded, data in {}", config.backend.data_dir.display())
        }
        platform::BackendKind::Aws => match &config.backend.aws.endpoint_url {
            Some(endpoint) => format!("aws at {endpoint}"),
            None => "aws".to_string(),
        },
    };
    let mut lines = vec![
        format!(
            "PyAirtable platform on http://{} ({backend})",
            running.address
        ),
        format!("  try: curl http://{}/v1/health", running.address),
        format!(
            "  sign up: curl http://{}/v1/auth/register -H 'content-type: application/json' -d '{{\"email\":\"you@example.com\",\"password\":\"at least 8 characters\"}}'",
            running.address
        ),
        format!(
            "  Airtable gateway: point pyairtable at it with Api(<one of your API keys>, endpoint_url=\"http://{}\")",
            running.address
        ),
    ];
    match &running.sandbox {
        Some(sandbox) => {
            lines.push(format!(
                "Airtable sandbox on {} (bases: {})",
                sandbox.url(),
                sandbox.base_ids().join(", ")
            ));
            lines.push(format!("  demo Airtable token: {}", sandbox.demo_token()));
        }
        None => lines.push(format!("Airtable at {}", config.backend.airtable_api_url)),
    }
    lines.join("\n")
}

/// Prints for the user; a closed stdout (a pipe whose reader left) is not a reason to stop
/// serving.
fn say(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
}
