//! Lambda function `api-mcp`: the stateless MCP server at `/mcp`. The router lives in `http-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_runners::Error> {
    lambda_runners::run_http_function(http_api::functions::mcp::routes()).await
}
