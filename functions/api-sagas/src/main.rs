//! Lambda function `api-sagas`: /v1/sagas*. The router lives in `http-api`, the sagas in
//! `sagas`.

#[tokio::main]
async fn main() -> Result<(), lambda_runners::Error> {
    lambda_runners::run_http_function(http_api::functions::sagas::routes()).await
}
