//! `airtable-sandbox [--port N] [--host ADDR] [--seed FILE] [--persist FILE] [--no-rate-limit]`
//!
//! Serves a local Airtable API until Ctrl-C. A bad argument prints what is wrong and the usage,
//! and exits with status 2.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use airtable_sandbox::Sandbox;
use background_server::{init_logging, serve_until_ctrl_c};
use clap::Parser;

/// A faithful Airtable Web API on localhost, with demo data.
#[derive(Debug, Parser)]
#[command(name = "airtable-sandbox")]
struct Args {
    /// The port to listen on.
    #[arg(long, default_value_t = 8081)]
    port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// The seed data (JSON) instead of the demo bases.
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
    /// Keeps the data in FILE across restarts.
    #[arg(long, value_name = "FILE")]
    persist: Option<PathBuf>,
    /// Turns Airtable's rate limits off.
    #[arg(long)]
    no_rate_limit: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let args = Args::parse();
    let mut builder = Sandbox::builder();
    if let Some(seed) = args.seed {
        builder = builder.seed_file(seed);
    }
    if let Some(path) = args.persist {
        builder = builder.persist(path);
    }
    if args.no_rate_limit {
        builder = builder.no_rate_limits();
    }
    let sandbox = match builder.start(SocketAddr::new(args.host, args.port)).await {
        Ok(sandbox) => sandbox,
        Err(error) => {
            eprintln!("airtable-sandbox: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "Airtable sandbox listening on {}  (API at {}/v0)",
        sandbox.url(),
        sandbox.url()
    );
    println!("bases: {}", sandbox.base_ids().join(", "));
    println!("demo token: {}", sandbox.demo_token());
    serve_until_ctrl_c("airtable-sandbox", sandbox.shutdown()).await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("airtable-sandbox").chain(args.iter().copied()))
    }

    #[test]
    fn the_flags_scripts_and_the_readme_use_parse() {
        let args = parse(&["--port", "9000", "--no-rate-limit", "--seed=x.json"]).unwrap();
        assert_eq!(args.port, 9000);
        assert!(args.no_rate_limit);
        assert_eq!(args.seed, Some(PathBuf::from("x.json")));
        assert_eq!(args.host, IpAddr::from([127, 0, 0, 1]));
        let defaults = parse(&[]).unwrap();
        assert_eq!((defaults.port, defaults.no_rate_limit), (8081, false));
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        for bad in [
            &["--port"][..],
            &["--port", "abc"],
            &["--bogus"],
            &["--host", "x"],
        ] {
            let error = parse(bad).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{bad:?}");
        }
        assert_eq!(
            parse(&["--help"]).unwrap_err().kind(),
            clap::error::ErrorKind::DisplayHelp
        );
    }
}
