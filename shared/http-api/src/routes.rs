//! The route table: each function declares its routes once, and the same declaration builds its
//! router and lists its routes (which a test compares with `infra/template.yaml`).
//!
//! A route is declared as a documented handler (`routes!(handler)`, from its `#[utoipa::path]`
//! annotation, which names the method and path) plus who may call it, so the router, the route
//! table and the OpenAPI document ([`crate::openapi`]) cannot disagree.
//!
//! Routes are authenticated unless declared public: `route(needs, …)` puts the route behind the
//! authentication middleware ([`crate::middleware::authenticate`]) and then a check of the
//! scopes it needs ([`crate::scope_check`]), before any extractor reads the request; only
//! `public` and `public_per_client_limit` leave it open. Forgetting to protect a route is
//! therefore impossible; opening one takes a word that stands out in review.

use axum::Router;
use utoipa::openapi::path::{Operation, PathItem, Paths};
use utoipa::openapi::{RefOr, Schema};
use utoipa_axum::router::UtoipaMethodRouter;

use crate::AppState;
use crate::middleware::authenticate::{self, RouteGroup};
use crate::middleware::client_limit;
use crate::scope_check::{self, Needs};

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
/// use `{name}`, the syntax both share (and OpenAPI's).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteSpec {
    /// The Lambda function (binary) serving the route, e.g. `api-health`.
    pub function: &'static str,
    pub method: String,
    pub path: String,
    pub access: Access,
    /// What an authenticated route needs beyond authentication; empty for public routes.
    pub needs: Needs,
}

/// A function's routes: its route table, its routers and its part of the OpenAPI document,
/// built together from one declaration per route.
pub struct FunctionRoutes {
    pub function: &'static str,
    specs: Vec<RouteSpec>,
    public: Router<AppState>,
    client_limited: Router<AppState>,
    protected: Router<AppState>,
    before_authentication: Option<Guard>,
    /// The documented operations, with each one's security requirement filled in.
    paths: Paths,
    /// The schemas the operations refer to.
    schemas: Vec<(String, RefOr<Schema>)>,
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

/// A documented handler: `utoipa_axum::routes!(handler)` builds it from the handler's
/// `#[utoipa::path]` annotation, which names its method and path.
pub type Documented = UtoipaMethodRouter<AppState>;

impl FunctionRoutes {
    pub fn new(function: &'static str) -> Self {
        Self {
            function,
            specs: Vec::new(),
            public: Router::new(),
            client_limited: Router::new(),
            protected: Router::new(),
            before_authentication: None,
            paths: Paths::new(),
            schemas: Vec::new(),
        }
    }

    /// Runs `guard` on every route of this function before authentication and metering.
    pub fn guarded_by(mut self, guard: Guard) -> Self {
        self.before_authentication = Some(guard);
        self
    }

    /// Adds one documented handler (one method on one path, as its annotation says). Several
    /// methods on a path merge into one axum route; a path is either public or authenticated
    /// for all its methods.
    fn add(mut self, access: Access, needs: Needs, documented: Documented) -> Self {
        let (schemas, mut paths, mut handler) = documented;
        for (path, item) in paths.paths.iter_mut() {
            for (method, operation) in operations_mut(item) {
                crate::openapi::complete(path, operation, access, &needs);
                self.specs.push(RouteSpec {
                    function: self.function,
                    method: method.to_string(),
                    path: path.clone(),
                    access,
                    needs: needs.clone(),
                });
            }
        }
        if access == Access::Authenticated {
            // On the handler itself, so it runs inside authentication (added to the whole
            // router later, hence outside) and before the handler's extractors.
            handler = handler.route_layer(axum::middleware::from_fn_with_state(
                needs,
                scope_check::require_scope,
            ));
        }
        for path in paths.paths.keys() {
            let router = match access {
                Access::Public => &mut self.public,
                Access::PublicPerClientLimit => &mut self.client_limited,
                Access::Authenticated => &mut self.protected,
            };
            *router = std::mem::take(router).route(path, handler.clone());
        }
        for (path, item) in paths.paths {
            match self.paths.paths.get_mut(&path) {
                Some(existing) => existing.merge_operations(item),
                None => {
                    self.paths.paths.insert(path, item);
                }
            }
        }
        self.schemas.extend(schemas);
        self
    }

    /// An authenticated route that `needs` one of some scopes (an [`accounts::Scope`], or
    /// [`Needs::any_of`], or [`Needs::AUTHENTICATION`] for any authenticated caller).
    pub fn route(self, needs: impl Into<Needs>, documented: Documented) -> Self {
        self.add(Access::Authenticated, needs.into(), documented)
    }

    /// A route open to anyone.
    pub fn public(self, documented: Documented) -> Self {
        self.add(Access::Public, Needs::AUTHENTICATION, documented)
    }

    /// A public route limited per client address (see [`Access::PublicPerClientLimit`]).
    pub fn public_per_client_limit(self, documented: Documented) -> Self {
        self.add(
            Access::PublicPerClientLimit,
            Needs::AUTHENTICATION,
            documented,
        )
    }

    pub fn specs(&self) -> &[RouteSpec] {
        &self.specs
    }

    /// The function's documented operations and the schemas they use.
    pub fn documentation(&self) -> (&Paths, &[(String, RefOr<Schema>)]) {
        (&self.paths, &self.schemas)
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

/// Every operation of a path item, with its method as HTTP spells it.
fn operations_mut(item: &mut PathItem) -> Vec<(&'static str, &mut Operation)> {
    [
        ("GET", &mut item.get),
        ("PUT", &mut item.put),
        ("POST", &mut item.post),
        ("DELETE", &mut item.delete),
        ("OPTIONS", &mut item.options),
        ("HEAD", &mut item.head),
        ("PATCH", &mut item.patch),
        ("TRACE", &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_mut().map(|operation| (method, operation)))
    .collect()
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
