//! `fake-llm [--port N] [--host ADDR] [--gemini-key K] [--openai-key K] [--no-key-check] [--script FILE]`
//!
//! Serves the fake Gemini and OpenAI APIs until Ctrl-C. Arguments are parsed by hand to keep the
//! binary's dependencies small; a bad argument prints one line and exits with status 2.

use fake_llm::{DEFAULT_GEMINI_KEY, DEFAULT_OPENAI_KEY, FakeLlm, Provider, Script};
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

const USAGE: &str = "usage: fake-llm [--port N] [--host ADDR] [--gemini-key K] [--openai-key K] [--no-key-check] [--script FILE]";

#[derive(Debug, PartialEq)]
struct Args {
    host: IpAddr,
    port: u16,
    gemini_key: String,
    openai_key: String,
    key_check: bool,
    script: Option<String>,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let mut out = Args {
        host: IpAddr::from([127, 0, 0, 1]),
        port: 8091,
        gemini_key: DEFAULT_GEMINI_KEY.into(),
        openai_key: DEFAULT_OPENAI_KEY.into(),
        key_check: true,
        script: None,
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
            "--gemini-key" => out.gemini_key = value("--gemini-key")?,
            "--openai-key" => out.openai_key = value("--openai-key")?,
            "--no-key-check" => out.key_check = false,
            "--script" => out.script = Some(value("--script")?),
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
            eprintln!("fake-llm: {e} ({USAGE})");
            return ExitCode::from(2);
        }
    };
    let mut builder = FakeLlm::builder()
        .gemini_key(&args.gemini_key)
        .openai_key(&args.openai_key);
    if !args.key_check {
        builder = builder
            .no_key_check(Provider::Gemini)
            .no_key_check(Provider::OpenAi);
    }
    if let Some(path) = &args.script {
        let script = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| Script::from_json(&text).map_err(|e| e.to_string()));
        match script {
            Ok(s) => builder = builder.script(s),
            Err(e) => {
                eprintln!("fake-llm: --script {path}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let llm = match builder.start(SocketAddr::new(args.host, args.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("fake-llm: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("fake LLM listening on {}", llm.url());
    if args.key_check {
        println!(
            "GEMINI_BASE_URL={}  key: {}",
            llm.gemini_base_url(),
            args.gemini_key
        );
        println!(
            "OPENAI_BASE_URL={}  key: {}",
            llm.openai_base_url(),
            args.openai_key
        );
    } else {
        println!("GEMINI_BASE_URL={}  (any key)", llm.gemini_base_url());
        println!("OPENAI_BASE_URL={}  (any key)", llm.openai_base_url());
    }
    println!(
        "admin: POST {0}/_fake/script, GET {0}/_fake/requests, POST {0}/_fake/reset",
        llm.url()
    );
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("fake-llm: cannot wait for Ctrl-C: {e}");
    }
    println!("shutting down");
    llm.shutdown().await;
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
        let a = parse(&["--port", "9000", "--no-key-check", "--openai-key=sk-x"])
            .unwrap()
            .unwrap();
        assert_eq!(a.port, 9000);
        assert!(!a.key_check);
        assert_eq!(a.openai_key, "sk-x");
        assert_eq!(a.gemini_key, DEFAULT_GEMINI_KEY);
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--port", "abc"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        assert_eq!(parse(&["--help"]).unwrap(), None);
    }
}
