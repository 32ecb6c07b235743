//! Lambda function `api-usage`: GET /v1/usage/summary. The router lives in `http-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_runners::Error> {
    lambda_runners::run_http_function(http_api::functions::usage::routes()).await
}
