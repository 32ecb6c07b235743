//! `fake-llm [--port N] [--host ADDR] [--gemini-key K] [--openai-key K] [--no-key-check] [--script FILE]`
//!
//! Serves the fake Gemini and OpenAI APIs until Ctrl-C. A bad argument prints what is wrong and
//! the usage, and exits with status 2.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use background_server::{init_logging, serve_until_ctrl_c};
use clap::Parser;
use fake_llm::{DEFAULT_GEMINI_KEY, DEFAULT_OPENAI_KEY, FakeLlm, Provider, Script};

/// Scripted fake Gemini and OpenAI-compatible APIs on localhost.
#[derive(Debug, Parser)]
#[command(name = "fake-llm")]
struct Args {
    /// The port to listen on.
    #[arg(long, default_value_t = 8091)]
    port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// The Gemini API key it accepts.
    #[arg(long, value_name = "K", default_value = DEFAULT_GEMINI_KEY)]
    gemini_key: String,
    /// The OpenAI API key it accepts.
    #[arg(long, value_name = "K", default_value = DEFAULT_OPENAI_KEY)]
    openai_key: String,
    /// Accepts any key.
    #[arg(long)]
    no_key_check: bool,
    /// The script (JSON) to answer from.
    #[arg(long, value_name = "FILE")]
    script: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let args = Args::parse();
    let mut builder = FakeLlm::builder()
        .gemini_key(&args.gemini_key)
        .openai_key(&args.openai_key);
    if args.no_key_check {
        builder = builder
            .no_key_check(Provider::Gemini)
            .no_key_check(Provider::OpenAi);
    }
    if let Some(path) = &args.script {
        let script = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| Script::from_json(&text).map_err(|e| e.to_string()));
        match script {
            Ok(script) => builder = builder.script(script),
            Err(error) => {
                eprintln!("fake-llm: --script {}: {error}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    let llm = match builder.start(SocketAddr::new(args.host, args.port)).await {
        Ok(llm) => llm,
        Err(error) => {
            eprintln!("fake-llm: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("fake LLM listening on {}", llm.url());
    let (gemini_key, openai_key) = if args.no_key_check {
        ("(any key)".to_string(), "(any key)".to_string())
    } else {
        (
            format!("key: {}", args.gemini_key),
            format!("key: {}", args.openai_key),
        )
    };
    println!("GEMINI_BASE_URL={}  {gemini_key}", llm.gemini_base_url());
    println!("OPENAI_BASE_URL={}  {openai_key}", llm.openai_base_url());
    println!(
        "admin: POST {0}/_fake/script, GET {0}/_fake/requests, POST {0}/_fake/reset",
        llm.url()
    );
    serve_until_ctrl_c("fake-llm", llm.shutdown()).await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("fake-llm").chain(args.iter().copied()))
    }

    #[test]
    fn the_flags_the_readme_uses_parse() {
        let args = parse(&["--port", "9000", "--no-key-check", "--openai-key=sk-x"]).unwrap();
        assert_eq!(args.port, 9000);
        assert!(args.no_key_check);
        assert_eq!(args.openai_key, "sk-x");
        assert_eq!(args.gemini_key, DEFAULT_GEMINI_KEY);
        let script = parse(&["--script", "s.json"]).unwrap().script;
        assert_eq!(script, Some(PathBuf::from("s.json")));
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        for bad in [&["--port"][..], &["--port", "abc"], &["--bogus"]] {
            let error = parse(bad).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{bad:?}");
        }
        assert_eq!(
            parse(&["--help"]).unwrap_err().kind(),
            clap::error::ErrorKind::DisplayHelp
        );
    }
}
