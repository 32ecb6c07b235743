//! Lambda function `api-hooks`: Airtable's webhook pings and signed workflow hooks, verified by
//! MAC or signature instead of a bearer token. The router lives in `http-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_runners::Error> {
    lambda_runners::run_http_function(http_api::functions::hooks::routes()).await
}
