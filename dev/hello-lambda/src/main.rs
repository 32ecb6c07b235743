//! `hello-lambda`: the floor a Lambda function's cold start cannot go below. It does what every
//! one of our functions must do (start tokio, read the runtime's environment, poll the Runtime
//! API, answer) and nothing else: no configuration, no adapters, no router. The cold-start
//! benchmark measures it in the same run as the real functions and reports their init as a
//! ratio to it, so machine noise cancels out of the comparison.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

/// Answers like an API Gateway HTTP API integration, whatever the event.
async fn hello(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": "{\"hello\":\"world\"}",
        "isBase64Encoded": false,
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(hello)).await
}
