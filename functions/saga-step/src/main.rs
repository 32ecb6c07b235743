//! Lambda function `saga-step`: the saga state machines' Task states invoke it
//! (`arn:aws:states:::lambda:invoke`) for one step or compensation. The actions live in `sagas`.

#[tokio::main]
async fn main() -> Result<(), lambda_runners::Error> {
    lambda_runners::run_task_function("saga-step", |platform| platform.sagas().step_handler()).await
}
