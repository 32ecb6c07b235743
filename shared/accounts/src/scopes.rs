//! What a principal may do: scopes for API keys, and roles for users (each role implies scopes).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One permission. A route names the scope it needs; a key without it gets 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "records:read")]
    RecordsRead,
    #[serde(rename = "records:write")]
    RecordsWrite,
    #[serde(rename = "schema:read")]
    SchemaRead,
    #[serde(rename = "schema:write")]
    SchemaWrite,
    #[serde(rename = "chat")]
    Chat,
    #[serde(rename = "workflows")]
    Workflows,
    #[serde(rename = "sagas")]
    Sagas,
    #[serde(rename = "usage:read")]
    UsageRead,
    /// Managing the tenant itself: API keys, the Airtable connection, budgets.
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 9] = [
        Scope::RecordsRead,
        Scope::RecordsWrite,
        Scope::SchemaRead,
        Scope::SchemaWrite,
        Scope::Chat,
        Scope::Workflows,
        Scope::Sagas,
        Scope::UsageRead,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::RecordsRead => "records:read",
            Scope::RecordsWrite => "records:write",
            Scope::SchemaRead => "schema:read",
            Scope::SchemaWrite => "schema:write",
            Scope::Chat => "chat",
            Scope::Workflows => "workflows",
            Scope::Sagas => "sagas",
            Scope::UsageRead => "usage:read",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown scope {s:?}; known scopes: {}", known.join(", "))
            })
    }
}

/// A set of scopes, serialised as a sorted list of strings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    pub fn all() -> Self {
        Self(Scope::ALL.into_iter().collect())
    }

    /// Parses names, refusing unknown ones and an empty list.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, String> {
        let scopes = names
            .iter()
            .map(|name| name.as_ref().parse::<Scope>())
            .collect::<Result<BTreeSet<_>, _>>()?;
        if scopes.is_empty() {
            return Err("scopes cannot be empty".to_string());
        }
        Ok(Self(scopes))
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_subset_of(&self, other: &Scopes) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|s| s.as_str()).collect()
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<T: IntoIterator<Item = Scope>>(iter: T) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// A user's role in their tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Created the tenant; everything.
    Owner,
    /// Everything, including managing keys and connections.
    Admin,
    /// Works with data; cannot manage keys, connections or budgets.
    Member,
}

impl Role {
    pub fn scopes(self) -> Scopes {
        match self {
            Role::Owner | Role::Admin => Scopes::all(),
            Role::Member => Scope::ALL
                .into_iter()
                .filter(|scope| *scope != Scope::Admin)
                .collect(),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owner" => Ok(Role::Owner),
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_and_refuse_unknown_names() {
        let scopes = Scopes::parse(&["records:read", "chat", "records:read"]).expect("valid");
        assert_eq!(scopes.names(), vec!["records:read", "chat"]);
        assert_eq!(
            serde_json::to_value(&scopes).expect("json"),
            serde_json::json!(["records:read", "chat"])
        );
        assert!(Scopes::parse(&["records:delete"]).is_err());
        assert!(Scopes::parse::<&str>(&[]).is_err());
    }

    #[test]
    fn members_are_not_admins() {
        assert!(Role::Owner.scopes().contains(Scope::Admin));
        assert!(!Role::Member.scopes().contains(Scope::Admin));
        assert!(Role::Member.scopes().contains(Scope::RecordsWrite));
    }
}
