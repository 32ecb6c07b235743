//! One cold start of one function binary: start the process under a fresh [`RuntimeApi`], wait
//! for its first poll, hand it its sample event, then a few more (warm), read its peak memory,
//! and kill it. Every figure the benchmark reports per start comes from here.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use tokio::process::{Child, Command};

use crate::counting_proxy::CountingProxy;
use crate::runtime_api::{EmulatorError, Invocation, Outcome, RuntimeApi};

/// Lambda's default memory size, announced in `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
const MEMORY_MB: u32 = 128;

/// A function binary and how to run it.
#[derive(Debug, Clone)]
pub struct FunctionUnderTest {
    pub name: String,
    pub binary: PathBuf,
    /// The function's own variables (backend, endpoints, credentials), beside Lambda's.
    pub environment: Vec<(String, String)>,
    /// The event each invocation receives.
    pub event: Bytes,
    /// Where the process's stdout and stderr go, appended start after start.
    pub log: PathBuf,
}

/// What one cold start measured.
#[derive(Debug, Clone)]
pub struct ColdStart {
    /// Process start to its first `GET /next`.
    pub init: Duration,
    /// Requests to the store (through the proxy) during init.
    pub init_store_requests: u64,
    /// The first invocation.
    pub first: Invocation,
    /// Requests to the store during the first invocation.
    pub first_store_requests: u64,
    /// Each warm invocation's handling time.
    pub warm: Vec<Duration>,
    /// Requests to the store during the first warm invocation, when there was one.
    pub warm_store_requests: Option<u64>,
    /// `VmHWM`: the most resident memory the process had, in KiB.
    pub peak_rss_kib: u64,
}

impl ColdStart {
    /// The HTTP status of the first answer, when it was an API Gateway response.
    pub fn first_status(&self) -> Option<u16> {
        status_of(&self.first.outcome)
    }
}

/// The `statusCode` of an API Gateway response document.
pub fn status_of(outcome: &Outcome) -> Option<u16> {
    let Outcome::Response(body) = outcome else {
        return None;
    };
    let document: serde_json::Value = serde_json::from_slice(body).ok()?;
    document
        .get("statusCode")?
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
}

#[derive(Debug, thiserror::Error)]
pub enum ColdStartError {
    #[error(transparent)]
    Emulator(#[from] EmulatorError),
    #[error("cannot start {binary}: {source}")]
    Spawn {
        binary: String,
        source: std::io::Error,
    },
    #[error("cannot open the log {log}: {source}")]
    Log { log: String, source: std::io::Error },
    #[error("{name} exited ({status}) while {during}; see {log}")]
    Exited {
        name: String,
        status: String,
        during: &'static str,
        log: String,
    },
    #[error("{name} took longer than {timeout:?} while {during}; see {log}")]
    TimedOut {
        name: String,
        timeout: Duration,
        during: &'static str,
        log: String,
    },
    #[error("cannot read the peak memory of {name}: {reason}")]
    Memory { name: String, reason: String },
}

/// Runs one cold start of `function`, then `warm_invocations` more of its event; each step may
/// take up to `timeout`. `proxy` counts the store requests when the function talks to the store
/// through it.
pub async fn cold_start(
    function: &FunctionUnderTest,
    proxy: Option<&CountingProxy>,
    warm_invocations: usize,
    timeout: Duration,
) -> Result<ColdStart, ColdStartError> {
    let api = RuntimeApi::start(&function.name).await?;
    let mut process = Process::spawn(function, &api)?;
    let requests = || proxy.map_or(0, CountingProxy::requests);

    let before_init = requests();
    let polled = process
        .until(api.first_poll(), timeout, "starting")
        .await??;
    let init = polled.saturating_duration_since(process.started);
    let init_store_requests = requests() - before_init;

    let before_first = requests();
    let first = process
        .until(
            api.invoke(function.event.clone()),
            timeout,
            "answering its first event",
        )
        .await??;
    let first_store_requests = requests() - before_first;

    let mut warm = Vec::with_capacity(warm_invocations);
    let mut warm_store_requests = None;
    for _ in 0..warm_invocations {
        let before = requests();
        let invocation = process
            .until(
                api.invoke(function.event.clone()),
                timeout,
                "answering warm",
            )
            .await??;
        warm_store_requests.get_or_insert(requests() - before);
        warm.push(invocation.duration());
    }

    let peak_rss_kib = process.peak_rss_kib()?;
    process.stop().await;
    Ok(ColdStart {
        init,
        init_store_requests,
        first,
        first_store_requests,
        warm,
        warm_store_requests,
        peak_rss_kib,
    })
}

/// The function's process, killed if dropped before [`Process::stop`].
struct Process {
    name: String,
    log: String,
    child: Child,
    started: Instant,
}

impl Process {
    fn spawn(function: &FunctionUnderTest, api: &RuntimeApi) -> Result<Self, ColdStartError> {
        let log_path = function.log.display().to_string();
        let open_log = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&function.log)
                .map_err(|source| ColdStartError::Log {
                    log: log_path.clone(),
                    source,
                })
        };
        let (stdout, stderr) = (open_log()?, open_log()?);
        let mut command = Command::new(&function.binary);
        // Only what Lambda would give the process: nothing of this shell leaks in.
        command
            .env_clear()
            .envs(api.lambda_environment(&function.name, MEMORY_MB))
            .envs(function.environment.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true);
        let started = Instant::now();
        let child = command.spawn().map_err(|source| ColdStartError::Spawn {
            binary: function.binary.display().to_string(),
            source,
        })?;
        Ok(Self {
            name: function.name.clone(),
            log: log_path,
            child,
            started,
        })
    }

    /// Waits for `step`, unless the process exits or `timeout` passes first.
    async fn until<T>(
        &mut self,
        step: impl Future<Output = T>,
        timeout: Duration,
        during: &'static str,
    ) -> Result<T, ColdStartError> {
        tokio::select! {
            done = step => Ok(done),
            exited = self.child.wait() => Err(ColdStartError::Exited {
                name: self.name.clone(),
                status: exited.map_or_else(|e| e.to_string(), |s| s.to_string()),
                during,
                log: self.log.clone(),
            }),
            () = tokio::time::sleep(timeout) => Err(ColdStartError::TimedOut {
                name: self.name.clone(),
                timeout,
                during,
                log: self.log.clone(),
            }),
        }
    }

    /// `VmHWM` from `/proc/<pid>/status`: the high-water mark of resident memory, which is what
    /// Lambda's "Max Memory Used" reports.
    fn peak_rss_kib(&self) -> Result<u64, ColdStartError> {
        let failed = |reason: String| ColdStartError::Memory {
            name: self.name.clone(),
            reason,
        };
        let pid = self
            .child
            .id()
            .ok_or_else(|| failed("the process has exited".to_string()))?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(|e| failed(e.to_string()))?;
        parse_vm_hwm(&status).ok_or_else(|| failed("no VmHWM line".to_string()))
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The `VmHWM:   12345 kB` line of a `/proc/<pid>/status`, in KiB.
fn parse_vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_high_water_mark_is_read_from_proc_status() {
        let status =
            "Name:\tapi-health\nVmPeak:\t  123456 kB\nVmHWM:\t    8840 kB\nVmRSS:\t    8000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(8840));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
    }

    #[test]
    fn the_status_of_an_api_gateway_response() {
        let ok = Outcome::Response(Bytes::from_static(br#"{"statusCode":201,"body":""}"#));
        assert_eq!(status_of(&ok), Some(201));
        let failed = Outcome::Error {
            error_type: "Unhandled".to_string(),
            body: Bytes::new(),
        };
        assert_eq!(status_of(&failed), None);
    }
}
