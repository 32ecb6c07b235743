//! The shutdown signal as the workers and the batch logic read it: checked before a message is
//! started, awaited while idle. The dev server hands each worker a future (Ctrl-C or SIGTERM);
//! [`Stop::after`] turns it into a flag that can be both polled and awaited.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

#[derive(Debug, Clone)]
pub(crate) struct Stop(Option<watch::Receiver<bool>>);

impl Stop {
    /// Never set: the Lambda runtime ends an invocation, not a batch.
    pub(crate) fn never() -> Self {
        Self(None)
    }

    /// Set once `shutdown` completes.
    pub(crate) fn after(shutdown: impl Future<Output = ()> + Send + 'static) -> Self {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            // No receiver left means the worker has already ended: nothing to tell.
            let _ = tx.send(true);
        });
        Self(Some(rx))
    }

    /// Whether to stop now. A signal whose sender is gone (its task dropped with the runtime)
    /// counts as set, so a worker never outlives the thing that would have stopped it.
    pub(crate) fn is_set(&self) -> bool {
        match &self.0 {
            None => false,
            Some(rx) => *rx.borrow() || rx.has_changed().is_err(),
        }
    }

    /// Completes once the signal is set.
    pub(crate) async fn stopped(&self) {
        match &self.0 {
            None => std::future::pending().await,
            Some(rx) => {
                let mut rx = rx.clone();
                let _ = rx.wait_for(|set| *set).await;
            }
        }
    }

    /// Sleeps for `duration` or until the signal is set, whichever comes first.
    pub(crate) async fn sleep(&self, duration: Duration) {
        tokio::select! {
            () = tokio::time::sleep(duration) => {}
            () = self.stopped() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_flag_is_set_once_the_shutdown_future_completes() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let stop = Stop::after(async move {
            let _ = rx.await;
        });
        assert!(!stop.is_set());
        let _ = tx.send(());
        tokio::time::timeout(Duration::from_secs(5), stop.stopped())
            .await
            .expect("stopped completes after the shutdown future");
        assert!(stop.is_set());
        assert!(!Stop::never().is_set());
    }
}
