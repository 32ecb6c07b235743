//! Lambda function `worker-runs`: the runs queue's consumer. The executor lives in
//! `automations`.

#[tokio::main]
async fn main() -> Result<(), lambda_runners::Error> {
    lambda_runners::run_queue_function("worker-runs", |platform| {
        platform.automations().run_worker()
    })
    .await
}
