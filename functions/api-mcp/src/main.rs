//! Lambda function `api-mcp`: the stateless MCP server at `/mcp`. The router lives in `http-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    backend::run_http_function(http_api::functions::mcp::routes()).await
}
