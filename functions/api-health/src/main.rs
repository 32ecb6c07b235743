//! Lambda function `api-health`: `GET /v1/health`. The router lives in `http-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_runners::Error> {
    lambda_runners::run_http_function(http_api::functions::health::routes()).await
}
