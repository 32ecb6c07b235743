//! `airtable-sandbox [--port N] [--host ADDR] [--seed FILE] [--persist FILE] [--no-rate-limit]`
//!
//! Serves a local Airtable API until Ctrl-C. Arguments are parsed by hand to keep the binary's
//! dependencies small; a bad argument prints one line and exits with status 2.

use airtable_sandbox::Sandbox;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

const USAGE: &str = "usage: airtable-sandbox [--port N] [--host ADDR] [--seed FILE] [--persist FILE] [--no-rate-limit]";

#[derive(Debug, PartialEq)]
struct Args {
    host: IpAddr,
    port: u16,
    seed: Option<String>,
    persist: Option<String>,
    rate_limit: bool,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let mut out = Args {
        host: IpAddr::from([127, 0, 0, 1]),
        port: 8081,
        seed: None,
        persist: None,
        rate_limit: true,
    };
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--port" => {
                let v = value("--port")?;
                out.port = v
                    .parse()
                    .map_err(|_| format!("--port: not a port number: {v}"))?;
            }
            "--host" => {
                let v = value("--host")?;
                out.host = v
                    .parse()
                    .map_err(|_| format!("--host: not an IP address: {v}"))?;
            }
            "--seed" => out.seed = Some(value("--seed")?),
            "--persist" => out.persist = Some(value("--persist")?),
            "--no-rate-limit" => out.rate_limit = false,
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(Some(out))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("airtable-sandbox: {e} ({USAGE})");
            return ExitCode::from(2);
        }
    };
    let mut builder = Sandbox::builder();
    if let Some(seed) = &args.seed {
        builder = builder.seed_file(seed);
    }
    if let Some(p) = &args.persist {
        builder = builder.persist(p);
    }
    if !args.rate_limit {
        builder = builder.no_rate_limits();
    }
    let sandbox = match builder.start(SocketAddr::new(args.host, args.port)).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("airtable-sandbox: {e}");
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
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("airtable-sandbox: cannot wait for Ctrl-C: {e}");
    }
    println!("shutting down");
    sandbox.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[&str]) -> Result<Option<Args>, String> {
        parse_args(v.iter().map(|s| s.to_string()))
    }

    #[test]
    fn args() {
        let a = parse(&["--port", "9000", "--no-rate-limit", "--seed=x.json"])
            .unwrap()
            .unwrap();
        assert_eq!(a.port, 9000);
        assert!(!a.rate_limit);
        assert_eq!(a.seed.as_deref(), Some("x.json"));
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--port", "abc"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }
}
