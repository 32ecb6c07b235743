//! The steps nearly every black-box test begins with: an owner, the sandbox connected as the
//! owner's Airtable, an API key.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::app::TestApp;
use crate::reply::Reply;

/// The password every test owner signs up with.
pub const PASSWORD: &str = "correct horse battery staple";

/// The display name every test owner signs up with.
pub const OWNER_NAME: &str = "Ada";

/// The scopes a gateway (`/v0`) client needs: read and write records, read the schema.
pub const GATEWAY_SCOPES: [&str; 3] = ["records:read", "records:write", "schema:read"];

/// A registered owner: the tokens `POST /v1/auth/register` answered, and the whole answer.
#[derive(Debug)]
pub struct Owner {
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
    pub registered: Reply,
}

impl TestApp {
    /// Registers an owner named [`OWNER_NAME`] with [`PASSWORD`] (a new tenant); asserts 201.
    pub async fn register_owner(&self, email: &str) -> Owner {
        let registered = self
            .post(
                "/v1/auth/register",
                None,
                json!({"email": email, "password": PASSWORD, "name": OWNER_NAME}),
            )
            .await
            .expect(StatusCode::CREATED);
        Owner {
            email: email.to_string(),
            access_token: registered.str("/access_token"),
            refresh_token: registered.str("/refresh_token"),
            registered,
        }
    }

    /// Registers an owner and answers just the access token.
    pub async fn owner(&self, email: &str) -> String {
        self.register_owner(email).await.access_token
    }

    /// Connects the sandbox's demo token as the Airtable of `access`'s tenant; asserts 200.
    pub async fn connect_sandbox(&self, access: &str) {
        self.call(
            Method::PUT,
            "/v1/connections/airtable",
            access,
            Some(json!({"token": crate::DEMO_TOKEN})),
        )
        .await
        .expect(StatusCode::OK);
    }

    /// A new owner whose tenant has the sandbox connected; answers the access token.
    pub async fn connected_owner(&self, email: &str) -> String {
        let access = self.owner(email).await;
        self.connect_sandbox(&access).await;
        access
    }

    /// Mints an API key with `scopes` for `access`'s tenant; asserts 201, answers the key.
    pub async fn mint_api_key(&self, access: &str, scopes: &[&str]) -> String {
        self.post(
            "/v1/api-keys",
            access,
            json!({"name": "test key", "scopes": scopes}),
        )
        .await
        .expect(StatusCode::CREATED)
        .str("/key")
    }

    /// A new connected owner's access token and an API key with `scopes`.
    pub async fn connected_key(&self, email: &str, scopes: &[&str]) -> (String, String) {
        let access = self.connected_owner(email).await;
        let key = self.mint_api_key(&access, scopes).await;
        (access, key)
    }
}
