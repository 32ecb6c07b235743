//! The all-in-one local server: every function's router merged on one port, on the embedded
//! adapters by default (`BACKEND=aws` switches to the AWS adapters). It is what a new user runs
//! first: no AWS account, no Docker, no Python.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use backend::{BackendConfig, BackendKind};
use basics::config::Port;
use basics::{ConfigError, Env};
use tokio::net::TcpListener;

/// The dev server's own settings, beside the backend's.
#[derive(Debug, Clone)]
pub struct DevServerConfig {
    /// `HOST`: the address to listen on (default 127.0.0.1, this machine only).
    pub host: IpAddr,
    /// `PORT`: default 8080.
    pub port: Port,
    pub backend: BackendConfig,
}

impl DevServerConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            host: env.or("HOST", IpAddr::from([127, 0, 0, 1]))?,
            port: env.or("PORT", Port(8080))?,
            backend: BackendConfig::from_env(env, BackendKind::Embedded)?,
        })
    }
}

/// A running dev server.
pub struct Running {
    pub address: SocketAddr,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Builds the platform and serves it until `shutdown` completes. Binds before returning, so the
/// address is ready for requests (port 0 picks a free port, for tests).
pub async fn start(
    config: &DevServerConfig,
    bind_port: u16,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Running, String> {
    let state = backend::app_state(&config.backend).await?;
    let router = http_api::platform_router(state);
    let listener = TcpListener::bind(SocketAddr::new(config.host, bind_port))
        .await
        .map_err(|e| format!("cannot listen on {}:{bind_port}: {e}", config.host))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
    });
    Ok(Running { address, task })
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
