//! Lambda function `worker-events`: the events queue's consumer (Airtable webhook payloads into
//! record events and runs). The logic lives in `automations`.

#[tokio::main]
async fn main() -> Result<(), lambda_runners::Error> {
    lambda_runners::run_queue_function("worker-events", |platform| {
        platform.automations().events_worker()
    })
    .await
}
