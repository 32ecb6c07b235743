//! The all-in-one local server: every function's router merged on one port, on the embedded
//! adapters by default (`BACKEND=aws` switches to the AWS adapters), with the Airtable sandbox
//! started in-process as its Airtable unless `AIRTABLE_API_URL` points elsewhere. It is what a new
//! user runs first: no AWS account, no Docker, no Python.
//!
//! The saga state machines run in-process on the local state-machine runner (the same ASL
//! files Step Functions runs), their executions stored in the embedded database after every
//! state: executions survive a restart, since start-up resumes every execution left running
//! from its last saved state (a Task that was in flight runs again; saga steps are idempotent).

pub mod crash_drill;
mod workers;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use airtable_sandbox::{Sandbox, SandboxHandle};
use backend::MachineDefinitions;
use basics::config::Port;
use basics::{Clock, ConfigError, Env, SystemClock};
use platform::{BackendKind, Platform, Settings};
use tokio::net::TcpListener;
use triggers::TaskHandler;

use workers::RunningWorkers;
pub use workers::{Workers, WorkersFactory};

/// The sandbox's state file under `DATA_DIR`, so demo data survives restarts like the rest.
pub const SANDBOX_FILE: &str = "airtable-sandbox.json";

/// The dev server's own settings, beside the backend's.
#[derive(Debug, Clone)]
pub struct DevServerConfig {
    /// `HOST`: the address to listen on (default 127.0.0.1, this machine only).
    pub host: IpAddr,
    /// `PORT`: default 8080 (0 picks a free port, for tests).
    pub port: u16,
    /// `SANDBOX_PORT`: where the in-process Airtable sandbox listens (default 8081).
    pub sandbox_port: u16,
    /// Whether to run the sandbox: yes unless `AIRTABLE_API_URL` is set.
    pub run_sandbox: bool,
    /// `DEV_OUTBOUND_ALLOW`: `ip:port` pairs (comma-separated) that workflow `http` steps may
    /// reach although the address guard refuses them (a webhook receiver on this machine, for a
    /// local demo or a test). Exact addresses only, never ranges; the deployed functions have no
    /// such setting.
    pub outbound_allow: Vec<SocketAddr>,
    /// `DEV_QUEUE_VISIBILITY_SECONDS`: how long the in-process workers hide a received message
    /// (the queues' 900 s by default); a crash test shortens it to see a redelivery soon.
    pub queue_visibility: Option<std::time::Duration>,
    /// `DEV_PAUSE_AFTER_EFFECT`: the crash drill's marker file ([`crash_drill`]).
    pub pause_after_effect: Option<std::path::PathBuf>,
    pub backend: Settings,
}

impl DevServerConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            host: env.or("HOST", IpAddr::from([127, 0, 0, 1]))?,
            port: env.or("PORT", Port(8080))?.0,
            sandbox_port: env.or("SANDBOX_PORT", Port(8081))?.0,
            run_sandbox: env.raw("AIRTABLE_API_URL").is_none(),
            outbound_allow: outbound_allowances(env)?,
            queue_visibility: env
                .optional::<u64>("DEV_QUEUE_VISIBILITY_SECONDS")?
                .map(std::time::Duration::from_secs),
            pause_after_effect: env.optional::<std::path::PathBuf>("DEV_PAUSE_AFTER_EFFECT")?,
            backend: Settings::from_env(env, BackendKind::Embedded)?,
        })
    }
}

fn outbound_allowances(env: &Env) -> Result<Vec<SocketAddr>, ConfigError> {
    let Some(list) = env.raw("DEV_OUTBOUND_ALLOW") else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry.parse::<SocketAddr>().map_err(|_| ConfigError {
                var: "DEV_OUTBOUND_ALLOW".into(),
                problem: format!("{entry:?} is not an ip:port address"),
            })
        })
        .collect()
}

/// A running dev server.
pub struct Running {
    pub address: SocketAddr,
    /// The in-process Airtable sandbox, when it runs.
    pub sandbox: Option<SandboxHandle>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The platform the routers and workers share (its ports, for tests to look into).
    pub platform: Arc<platform::Platform>,
    /// The local state-machine runner behind `platform.state_machines` (embedded backend
    /// only), for tests to read an execution's history.
    pub local_state_machines: Option<Arc<backend::LocalStateMachines>>,
    workers: RunningWorkers,
}

impl Running {
    /// Waits for the server to stop (after the shutdown future completes) and the workers to
    /// drain, then stops the sandbox (last: draining work may still call Airtable).
    pub async fn wait(self) -> Result<(), String> {
        let served = self.task.await;
        self.workers.drain().await;
        if let Some(sandbox) = self.sandbox {
            sandbox.shutdown().await;
        }
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(err.to_string()),
            Err(err) => Err(err.to_string()),
        }
    }
}

async fn start_sandbox(config: &DevServerConfig) -> Result<SandboxHandle, String> {
    std::fs::create_dir_all(&config.backend.data_dir).map_err(|e| {
        format!(
            "cannot create DATA_DIR {}: {e}",
            config.backend.data_dir.display()
        )
    })?;
    Sandbox::builder()
        .persist(config.backend.data_dir.join(SANDBOX_FILE))
        .start(SocketAddr::new(config.host, config.sandbox_port))
        .await
        .map_err(|e| format!("cannot start the Airtable sandbox: {e}"))
}

/// How a dev server starts beyond its configuration: what tests control.
#[derive(Default)]
pub struct StartOptions {
    /// The clock every port, service and worker reads; the system clock when `None`.
    pub clock: Option<Arc<dyn Clock>>,
    /// Builds the in-process workers; [`Workers::standard`] when `None`.
    pub workers: Option<WorkersFactory>,
    /// The state machines the local runner runs; [`machine_definitions`] when `None`.
    pub machines: Option<MachineDefinitions>,
    /// Task functions registered with the local runner beside the standard ones (by function
    /// name), before the executions a previous run left running are resumed.
    pub task_functions: Vec<(String, Arc<dyn TaskHandler>)>,
}

/// The saga state machines the dev server runs, from the same ASL files Step Functions runs,
/// their Tasks on the in-process saga-step.
pub fn machine_definitions() -> MachineDefinitions {
    MachineDefinitions::new(sagas::machines::MACHINES)
        .with_task_function(sagas::machines::SAGA_STEP_SUBSTITUTION, "saga-step")
}

/// The platform's task functions by function name, each holding the platform weakly (see
/// [`backend::platform_task`]).
fn standard_task_functions(platform: &Arc<Platform>) -> Vec<(String, Arc<dyn TaskHandler>)> {
    vec![(
        "saga-step".to_string(),
        backend::platform_task(platform, |p| p.sagas().step_handler()),
    )]
}

/// Registers the platform's task functions with the local runner, then carries on every
/// execution a previous run left running (from its last saved step), so sagas survive a
/// restart of the dev server.
async fn start_local_state_machines(
    built: &backend::BuiltPlatform,
    extra: Vec<(String, Arc<dyn TaskHandler>)>,
) -> Result<(), String> {
    let Some(local) = &built.local_state_machines else {
        return Ok(());
    };
    let standard = standard_task_functions(&built.platform);
    for (name, handler) in standard.into_iter().chain(extra) {
        local.register_task_function(&name, handler);
    }
    let resumed = local
        .resume_running()
        .await
        .map_err(|e| format!("cannot resume the state-machine executions: {e}"))?;
    if resumed > 0 {
        tracing::info!(resumed, "resumed state-machine executions left running");
    }
    Ok(())
}

/// Builds the platform and serves it until `shutdown` completes. Binds before returning, so the
/// address is ready for requests.
pub async fn start(
    config: &DevServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Running, String> {
    start_with(config, StartOptions::default(), shutdown).await
}

/// [`start`] with a chosen clock and workers.
pub async fn start_with(
    config: &DevServerConfig,
    options: StartOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Running, String> {
    let mut backend = config.backend.clone();
    let sandbox = if config.run_sandbox {
        let sandbox = start_sandbox(config).await?;
        backend.airtable_api_url = sandbox.url();
        Some(sandbox)
    } else {
        None
    };
    // Bound first: Airtable's webhook pings come back to this address (the public URL), so it
    // must be known before the platform is built.
    let listener = TcpListener::bind(SocketAddr::new(config.host, config.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", config.host, config.port))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    let automations = &mut backend.platform.automations;
    if automations.public_url.is_none() {
        automations.public_url = Some(format!("http://{}", reachable(address)));
    }
    let clock = options.clock.unwrap_or_else(|| Arc::new(SystemClock));
    let machines = options.machines.unwrap_or_else(machine_definitions);
    let built = backend::build_platform(&backend, clock, &machines).await?;
    let platform = Arc::clone(&built.platform);
    platform.use_outbound_http(Arc::new(
        config
            .outbound_allow
            .iter()
            .fold(outbound_http::GuardedClient::builder(), |builder, addr| {
                builder.allow_socket_addr(*addr)
            })
            .build()
            .map_err(|e| format!("cannot build the outbound HTTP client: {e}"))?,
    ));
    if let Some(marker) = &config.pause_after_effect {
        platform.use_step_observer(Arc::new(crash_drill::PauseAfterEffect::new(marker.clone())));
    }
    start_local_state_machines(&built, options.task_functions).await?;
    let router = http_api::platform_router(http_api::AppState::new(Arc::clone(&platform)));
    let stopped = workers::fan_out(shutdown);
    let mut workers = match options.workers {
        Some(factory) => factory(&platform),
        None => Workers::standard(&platform),
    };
    if let Some(visibility) = config.queue_visibility {
        workers.queue_settings.visibility = visibility;
    }
    let workers = RunningWorkers::start(&platform, workers, &stopped);
    let http_stopped = stopped();
    let task = tokio::spawn(async move {
        // The peer address feeds the per-client limit on the sign-in routes.
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(http_stopped)
        .await
    });
    Ok(Running {
        address,
        sandbox,
        task,
        platform,
        local_state_machines: built.local_state_machines,
        workers,
    })
}

/// The address to give others for a listener: an unspecified bind address (`0.0.0.0`, `::`)
/// is reached through loopback on this machine.
fn reachable(address: SocketAddr) -> SocketAddr {
    if address.ip().is_unspecified() {
        let loopback = if address.is_ipv4() {
            IpAddr::from([127, 0, 0, 1])
        } else {
            IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
        };
        SocketAddr::new(loopback, address.port())
    } else {
        address
    }
}

/// A future that completes on Ctrl-C or SIGTERM. The handlers are installed when this is called,
/// not when the future is first polled, so a signal that arrives while the server is still
/// starting shuts it down cleanly instead of killing it.
#[cfg(unix)]
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        match (interrupt, terminate) {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {},
                    _ = terminate.recv() => {},
                }
            }
            (Err(err), _) | (_, Err(err)) => {
                tracing::warn!(error = %err, "cannot listen for signals; stop with kill -9");
                std::future::pending::<()>().await;
            }
        }
    }
}

/// A future that completes on Ctrl-C.
#[cfg(not(unix))]
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
