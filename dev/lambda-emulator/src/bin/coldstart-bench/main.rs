//! `coldstart-bench`: how fast each Lambda function binary starts and answers, and what it
//! costs, measured as Lambda runs it (a fresh process per cold start under a local Runtime API)
//! against moto, beside a `lambda_runtime` hello-world measured in the same run. Run it with
//! `scripts/coldstart-bench`, which builds the release binaries and starts moto.
//!
//! Starts are interleaved (one of each function per round) so that the machine's load, which
//! drifts on a shared two-core box, weighs on every function alike.

mod args;
mod catalogue;
mod platform;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lambda_emulator::report::{self, FunctionResult, Row};
use lambda_emulator::{CountingProxy, FunctionUnderTest, cold_start};

use crate::args::Args;
use crate::catalogue::{REFERENCE, REFERENCE_EVENT, SAMPLES, load_event};
use crate::platform::{Platform, Resources};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("coldstart-bench: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), String> {
    std::fs::create_dir_all(&args.logs)
        .map_err(|e| format!("cannot create {}: {e}", args.logs.display()))?;
    eprintln!("preparing the tenant on moto ({})", args.moto);
    let platform = Platform::prepare(
        &args.devserver,
        Resources::fresh(&args.moto),
        &args.logs.join("devserver.log"),
    )
    .await?;
    let proxy = CountingProxy::start(&args.moto)
        .await
        .map_err(|e| format!("cannot start the counting proxy: {e}"))?;
    let functions = functions_under_test(args, &platform, &proxy.url())?;

    let timeout = Duration::from_secs(args.timeout_seconds);
    let mut starts: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for round in 1..=args.starts {
        eprintln!("round {round}/{}", args.starts);
        for function in &functions {
            let measured = cold_start(function, Some(&proxy), args.warm, timeout)
                .await
                .map_err(|e| e.to_string())?;
            starts.entry(&function.name).or_default().push(measured);
        }
    }

    let mut rows = Vec::new();
    for function in &functions {
        let binary_bytes = std::fs::metadata(&function.binary)
            .map(|m| m.len())
            .map_err(|e| format!("cannot stat {}: {e}", function.binary.display()))?;
        rows.push(Row::from_result(&FunctionResult {
            name: function.name.clone(),
            binary_bytes,
            starts: starts.remove(function.name.as_str()).unwrap_or_default(),
        }));
    }
    let (reference, functions) = rows
        .split_first()
        .ok_or_else(|| "nothing was measured".to_string())?;
    if let Some(command) = &args.command {
        println!("command: `{command}`\n");
    }
    println!(
        "{} cold starts per function, {} warm invocations after each; times in ms, \
         store round trips counted between the function and moto.\n",
        args.starts, args.warm
    );
    print!("{}", report::markdown(reference, functions));
    println!();
    print!("{}", report::goals(reference, functions));
    println!();
    println!("Sample requests (`events/`, with an all-scope API key as the bearer):");
    for sample in SAMPLES
        .iter()
        .filter(|sample| functions.iter().any(|row| row.name == sample.function))
    {
        println!("- {}: `{}`", sample.function, sample.event);
    }
    Ok(())
}

/// The reference first, then each selected function, with its event and environment.
fn functions_under_test(
    args: &Args,
    platform: &Platform,
    endpoint: &str,
) -> Result<Vec<FunctionUnderTest>, String> {
    for name in &args.functions {
        if !SAMPLES.iter().any(|sample| sample.function == name) {
            return Err(format!("unknown function {name:?}"));
        }
    }
    let selected = SAMPLES.iter().filter(|sample| {
        args.functions.is_empty() || args.functions.iter().any(|f| f == sample.function)
    });
    let environment = platform.function_environment(endpoint);
    let mut functions = vec![under_test(
        args,
        REFERENCE,
        REFERENCE_EVENT,
        &platform.api_key,
        environment.clone(),
    )?];
    for sample in selected {
        functions.push(under_test(
            args,
            sample.function,
            sample.event,
            &platform.api_key,
            environment.clone(),
        )?);
    }
    Ok(functions)
}

fn under_test(
    args: &Args,
    name: &str,
    event: &str,
    bearer: &str,
    environment: Vec<(String, String)>,
) -> Result<FunctionUnderTest, String> {
    let binary = args.bin_dir.join(name);
    if !binary.is_file() {
        return Err(format!("no binary at {}", binary.display()));
    }
    Ok(FunctionUnderTest {
        name: name.to_string(),
        binary,
        environment,
        event: load_event(&args.events, event, bearer)?,
        log: log_file(&args.logs, name),
    })
}

fn log_file(logs: &Path, name: &str) -> std::path::PathBuf {
    logs.join(format!("{name}.log"))
}
