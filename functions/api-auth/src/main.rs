//! Lambda function `api-auth`: `/v1/auth/*` and `/v1/api-keys*`. The router lives in `http-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_runners::Error> {
    lambda_runners::run_http_function(http_api::functions::auth::routes()).await
}
