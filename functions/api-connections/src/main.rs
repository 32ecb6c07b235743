//! Lambda function `api-connections`: /v1/connections/* (the tenant's Airtable token). The router lives in `http-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_runners::Error> {
    lambda_runners::run_http_function(http_api::functions::connections::routes()).await
}
