//! Lambda function `scheduler`: on EventBridge's `rate(1 minute)`, due schedules into runs and
//! Airtable webhook refreshes. The job lives in `automations`.

#[tokio::main]
async fn main() -> Result<(), lambda_runners::Error> {
    lambda_runners::run_schedule_function("scheduler", |platform| {
        platform.automations().scheduler_job()
    })
    .await
}
