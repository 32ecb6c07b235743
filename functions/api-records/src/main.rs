//! Lambda function `api-records`: the Airtable-compatible /v0 gateway. The router lives in `http-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_runners::Error> {
    lambda_runners::run_http_function(http_api::functions::records::routes()).await
}
