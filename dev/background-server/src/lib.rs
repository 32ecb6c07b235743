//! What the two local fakes (the Airtable sandbox and the fake LLM) share, so neither copies
//! the other nor depends on it: serving a router on a background task with a handle that stops
//! it ([`BackgroundServer`]), and the life of their binaries ([`init_logging`],
//! [`serve_until_ctrl_c`]). Kept to axum and tokio, which both already use.

use std::net::SocketAddr;

use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A router served on a task of the current runtime until [`BackgroundServer::shutdown`] or
/// until the handle is dropped (which stops accepting without waiting).
#[derive(Debug)]
pub struct BackgroundServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl BackgroundServer {
    /// Binds `addr` (`127.0.0.1:0` picks a free port) and serves `router` on a background
    /// task; `name` says which server in the error log if serving fails later.
    pub async fn start(
        addr: SocketAddr,
        router: Router,
        name: &'static str,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "the {name} server stopped");
            }
        });
        Ok(Self {
            addr,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// Where it listens (with the port it was given when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, the base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits for in-flight requests.
    pub async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG`: how both dev binaries log.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
}

/// Waits for Ctrl-C, says it is shutting down, then runs `shutdown` (the server's own, which
/// waits for requests in flight). `program` prefixes the one error line if Ctrl-C cannot be
/// awaited.
pub async fn serve_until_ctrl_c(program: &str, shutdown: impl Future<Output = ()>) {
    if let Err(error) = tokio::signal::ctrl_c().await {
        eprintln!("{program}: cannot wait for Ctrl-C: {error}");
    }
    println!("shutting down");
    shutdown.await;
}
