//! The route table: each function declares its routes once, and the same declaration builds its
//! router and lists its routes (which a test compares with `infra/template.yaml`).
//!
//! Routes are authenticated unless declared public: `get`, `post`, … put the route behind the
//! authentication middleware ([`crate::middleware::authenticate`]), and only `public_get` and
//! `public_post_per_client_limit` leave it open. Forgetting to protect a route is therefore impossible; opening
//! one takes a word that stands out in review.

use axum::Router;
use axum::routing::MethodRouter;
use http::Method;

use crate::AppState;
use crate::middleware::authenticate::{self, RouteGroup};
use crate::middleware::client_limit;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// Anyone (health).
    Public,
    /// Anyone, within a per-client-address limit: public routes that cost a password hash or a
    /// signature (register, login, refresh).
    PublicPerClientLimit,
    /// A valid access token or API key; the request is metered and rate-limited per tenant.
    Authenticated,
}

/// One HTTP route as API Gateway and axum both see it, e.g. `GET /v1/health`. Path parameters
/// use `{name}`, the syntax both share.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteSpec {
    /// The Lambda function (binary) serving the route, e.g. `api-health`.
    pub function: &'static str,
    pub method: String,
    pub path: &'static str,
    pub access: Access,
}

/// A function's routes: its route table and its routers, built together.
pub struct FunctionRoutes {
    pub function: &'static str,
    specs: Vec<RouteSpec>,
    public: Router<AppState>,
    client_limited: Router<AppState>,
    protected: Router<AppState>,
    before_authentication: Option<Guard>,
}

/// A check that must run before authentication on every route of a function (MCP's `Origin`
/// check: a foreign origin gets 403 whether or not it carries credentials, and is not metered).
pub type Guard = fn(
    AppState,
    axum::extract::Request,
    axum::middleware::Next,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = axum::response::Response> + Send>,
>;

impl FunctionRoutes {
    pub fn new(function: &'static str) -> Self {
        Self {
            function,
            specs: Vec::new(),
            public: Router::new(),
            client_limited: Router::new(),
            protected: Router::new(),
            before_authentication: None,
        }
    }

    /// Runs `guard` on every route of this function before authentication and metering.
    pub fn guarded_by(mut self, guard: Guard) -> Self {
        self.before_authentication = Some(guard);
        self
    }

    /// Adds one method on one path. Several methods on a path merge into one axum route; a
    /// path is either public or authenticated for all its methods.
    pub fn route(
        mut self,
        access: Access,
        method: Method,
        path: &'static str,
        handler: MethodRouter<AppState>,
    ) -> Self {
        self.specs.push(RouteSpec {
            function: self.function,
            method: method.as_str().to_string(),
            path,
            access,
        });
        match access {
            Access::Public => self.public = self.public.route(path, handler),
            Access::PublicPerClientLimit => {
                self.client_limited = self.client_limited.route(path, handler);
            }
            Access::Authenticated => self.protected = self.protected.route(path, handler),
        }
        self
    }

    pub fn get(self, path: &'static str, handler: MethodRouter<AppState>) -> Self {
        self.route(Access::Authenticated, Method::GET, path, handler)
    }

    pub fn post(self, path: &'static str, handler: MethodRouter<AppState>) -> Self {
        self.route(Access::Authenticated, Method::POST, path, handler)
    }

    pub fn put(self, path: &'static str, handler: MethodRouter<AppState>) -> Self {
        self.route(Access::Authenticated, Method::PUT, path, handler)
    }

    pub fn patch(self, path: &'static str, handler: MethodRouter<AppState>) -> Self {
        self.route(Access::Authenticated, Method::PATCH, path, handler)
    }

    pub fn delete(self, path: &'static str, handler: MethodRouter<AppState>) -> Self {
        self.route(Access::Authenticated, Method::DELETE, path, handler)
    }

    pub fn public_get(self, path: &'static str, handler: MethodRouter<AppState>) -> Self {
        self.route(Access::Public, Method::GET, path, handler)
    }

    /// A public POST limited per client address (see [`Access::PublicPerClientLimit`]).
    pub fn public_post_per_client_limit(
        self,
        path: &'static str,
        handler: MethodRouter<AppState>,
    ) -> Self {
        self.route(Access::PublicPerClientLimit, Method::POST, path, handler)
    }

    pub fn specs(&self) -> &[RouteSpec] {
        &self.specs
    }

    /// The function's router: public routes as they are, the others behind authentication,
    /// the tenant rate limit and metering (counted under this function's route group).
    pub fn into_router(self, state: &AppState) -> Router<AppState> {
        // axum refuses a route layer on a router without routes, hence the checks.
        let has = |access: Access| self.specs.iter().any(|spec| spec.access == access);
        let (client_limited, authenticated) = (
            has(Access::PublicPerClientLimit),
            has(Access::Authenticated),
        );
        let mut router = self.public;
        if client_limited {
            router = router.merge(self.client_limited.route_layer(
                axum::middleware::from_fn_with_state(state.clone(), client_limit::limit_per_client),
            ));
        }
        if authenticated {
            let group = RouteGroup::of_function(self.function);
            router = router.merge(self.protected.route_layer(
                axum::middleware::from_fn_with_state(
                    (state.clone(), group),
                    authenticate::authenticate,
                ),
            ));
        }
        // Added last, so it is the outermost layer: it runs before authentication.
        if let Some(guard) = self.before_authentication {
            router = router.route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                move |axum::extract::State(state): axum::extract::State<AppState>,
                      request: axum::extract::Request,
                      next: axum::middleware::Next| guard(state, request, next),
            ));
        }
        router
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
