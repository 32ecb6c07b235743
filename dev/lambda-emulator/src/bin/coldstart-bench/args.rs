//! The benchmark's command line. `scripts/coldstart-bench` fills in moto, the dev server and
//! the binaries; a user changes only how many starts and warm invocations to run.

use std::path::PathBuf;

use clap::Parser;

/// Cold starts of every Lambda function binary under a local Runtime API, against moto, with a
/// `lambda_runtime` hello-world as the reference. Prints a Markdown table.
#[derive(Debug, Parser)]
#[command(name = "coldstart-bench")]
pub struct Args {
    /// moto's base URL (the AWS emulator the functions and the dev server talk to).
    #[arg(long)]
    pub moto: String,
    /// The dev server binary, which prepares the tenant the sample requests act as.
    #[arg(long)]
    pub devserver: PathBuf,
    /// Where the function binaries and the reference are (`target/release`).
    #[arg(long)]
    pub bin_dir: PathBuf,
    /// The sample events (`events/api-*.json`).
    #[arg(long, default_value = "events")]
    pub events: PathBuf,
    /// Where each process's output goes, one log per function.
    #[arg(long)]
    pub logs: PathBuf,
    /// Functions to measure (default: every one in the catalogue).
    #[arg(long, value_delimiter = ',')]
    pub functions: Vec<String>,
    /// Cold starts per function.
    #[arg(long, default_value_t = 15)]
    pub starts: usize,
    /// Warm invocations after each cold start.
    #[arg(long, default_value_t = 10)]
    pub warm: usize,
    /// How long one step (init, one invocation) may take, in seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout_seconds: u64,
    /// The command line to print above the table (the script passes its own).
    #[arg(long)]
    pub command: Option<String>,
}
