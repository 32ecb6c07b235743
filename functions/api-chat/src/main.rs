//! Lambda function `api-chat`: chat with your data, its sessions, models and budget. The router
//! lives in `http-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_runners::Error> {
    lambda_runners::run_http_function(http_api::functions::chat::routes()).await
}
