//! The crash drill: a dev server that stops dead right after a workflow step's side effect and
//! before its checkpoint, so a test can `kill -9` it in exactly the window where a naive worker
//! would repeat the effect on redelivery.
//!
//! `DEV_PAUSE_AFTER_EFFECT=<file>` turns it on: after the first side effect the observer writes
//! `<run id> <step index>` to the file and then blocks that worker for good (the step's
//! checkpoint is never written). Only the dev server reads this variable; the deployed functions
//! have no such hook.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use automations::RunId;
use automations::executor::StepObserver;

#[derive(Debug)]
pub struct PauseAfterEffect {
    marker: PathBuf,
    paused: AtomicBool,
}

impl PauseAfterEffect {
    pub fn new(marker: PathBuf) -> Self {
        Self {
            marker,
            paused: AtomicBool::new(false),
        }
    }
}

impl StepObserver for PauseAfterEffect {
    fn effect_done(&self, run_id: &RunId, step_index: usize) {
        if self.paused.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Err(err) = std::fs::write(&self.marker, format!("{run_id} {step_index}\n")) {
            tracing::error!(error = %err, marker = %self.marker.display(), "crash drill: cannot write the marker");
        }
        tracing::warn!(%run_id, step_index, "crash drill: paused after a side effect, before its checkpoint");
        // Blocks this worker thread until the process is killed: the checkpoint never comes.
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}
