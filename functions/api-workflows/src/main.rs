//! Lambda function `api-workflows`: /v1/workflows* and /v1/runs*. The router lives in `http-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_runners::Error> {
    lambda_runners::run_http_function(http_api::functions::workflows::routes()).await
}
