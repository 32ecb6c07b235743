//! The route table: each function declares its routes once, and the same declaration builds its
//! router and lists its routes (which a test compares with `infra/template.yaml`).

use axum::Router;
use axum::routing::MethodRouter;
use http::Method;

use crate::AppState;

/// One HTTP route as API Gateway and axum both see it, e.g. `GET /v1/health`. Path parameters
/// use `{name}`, the syntax both share.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteSpec {
    /// The Lambda function (binary) serving the route, e.g. `api-health`.
    pub function: &'static str,
    pub method: String,
    pub path: &'static str,
}

/// A function's routes: its route table and its router, built together.
pub struct FunctionRoutes {
    pub function: &'static str,
    specs: Vec<RouteSpec>,
    router: Router<AppState>,
}

impl FunctionRoutes {
    pub fn new(function: &'static str) -> Self {
        Self {
            function,
            specs: Vec::new(),
            router: Router::new(),
        }
    }

    /// Adds one method on one path. Several methods on a path merge into one axum route.
    pub fn route(
        mut self,
        method: Method,
        path: &'static str,
        handler: MethodRouter<AppState>,
    ) -> Self {
        self.specs.push(RouteSpec {
            function: self.function,
            method: method.as_str().to_string(),
            path,
        });
        self.router = self.router.route(path, handler);
        self
    }

    pub fn get(self, path: &'static str, handler: MethodRouter<AppState>) -> Self {
        self.route(Method::GET, path, handler)
    }

    pub fn post(self, path: &'static str, handler: MethodRouter<AppState>) -> Self {
        self.route(Method::POST, path, handler)
    }

    pub fn specs(&self) -> &[RouteSpec] {
        &self.specs
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}

/// The whole platform's route table.
pub fn route_table() -> Vec<RouteSpec> {
    let mut table: Vec<RouteSpec> = crate::all_functions()
        .iter()
        .flat_map(|f| f.specs().to_vec())
        .collect();
    table.sort();
    table
}
