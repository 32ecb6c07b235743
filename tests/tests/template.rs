//! `infra/template.yaml` and the code must agree: the same HTTP routes, each served by the same
//! function, the same non-HTTP event sources, and the same queue redrive count.

mod event_sources;

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_yaml::Value;

fn template() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
    let text = std::fs::read_to_string(&path).expect("read infra/template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

fn resources(template: &Value) -> Vec<(String, Value)> {
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), v.clone()))
        .collect()
}

/// (function binary, METHOD, path) for every HttpApi event in the template.
fn template_routes(template: &Value) -> BTreeSet<(String, String, String)> {
    let mut routes = BTreeSet::new();
    for (name, resource) in resources(template) {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} names no Binary in Metadata.BuildProperties"))
            .to_string();
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in events {
            if event["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let method = event["Properties"]["Method"].as_str().expect("Method");
            let path = event["Properties"]["Path"].as_str().expect("Path");
            assert!(
                event["Properties"]["ApiId"]["Ref"].as_str() == Some("HttpApi"),
                "{name}: every route belongs to the one HttpApi"
            );
            routes.insert((binary.clone(), method.to_uppercase(), path.to_string()));
        }
    }
    routes
}

#[test]
fn template_routes_equal_the_dev_server_routes() {
    let in_template = template_routes(&template());
    let in_code: BTreeSet<(String, String, String)> = http_api::routes::route_table()
        .into_iter()
        .map(|r| (r.function.to_string(), r.method, r.path.to_string()))
        .collect();
    assert!(!in_code.is_empty());
    let only_template: Vec<_> = in_template.difference(&in_code).collect();
    let only_code: Vec<_> = in_code.difference(&in_template).collect();
    assert!(
        only_template.is_empty() && only_code.is_empty(),
        "routes differ\n  only in template.yaml: {only_template:?}\n  only in the code: {only_code:?}"
    );
}

#[test]
fn every_function_binary_exists_as_a_crate() {
    for (name, resource) in resources(&template()) {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_default();
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../functions")
            .join(binary)
            .join("Cargo.toml");
        assert!(
            manifest.exists(),
            "{name}: no crate at {}",
            manifest.display()
        );
        assert_eq!(
            resource["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{name}"
        );
    }
}

#[test]
fn redrive_counts_match_the_queue_port() {
    for (name, resource) in resources(&template()) {
        if resource["Type"].as_str() != Some("AWS::SQS::Queue") {
            continue;
        }
        if let Some(count) = resource["Properties"]["RedrivePolicy"]["maxReceiveCount"].as_u64() {
            assert_eq!(
                count,
                u64::from(ports::queue::MAX_RECEIVES),
                "{name}: maxReceiveCount must equal ports::queue::MAX_RECEIVES"
            );
        }
    }
}

// ---------------------------------------------------------------- least privilege on secrets

/// Stand-ins for the pseudo parameters, to turn resource ARNs into concrete strings.
const PARTITION: &str = "aws";
const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "123456789012";
/// What Secrets Manager appends to a secret's name in its ARN.
const SECRET_SUFFIX: &str = "-AbC123";

/// A `pub const NAME: &str = "value";` from a source file of the workspace, so that the test
/// follows the code's secret names instead of copying them.
fn str_const(relative_path: &str, name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative_path);
    let source = std::fs::read_to_string(&path).expect("read a source file");
    let start = format!("pub const {name}: &str = \"");
    source
        .lines()
        .find_map(|line| line.trim().strip_prefix(start.as_str()))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no {start}…\" in {relative_path}"))
        .to_string()
}

fn signing_seed_name() -> String {
    str_const("../shared/accounts/src/jwt.rs", "SIGNING_SEED_SECRET")
}

fn verify_keys_name() -> String {
    str_const("../shared/accounts/src/jwt.rs", "VERIFY_KEYS_SECRET")
}

/// A tenant's Airtable token secret, as `connections::token_secret_name` names it.
const TENANT_TOKEN_NAME: &str = "tenants/ten_example/airtable-token";

/// The functions that call Airtable with a tenant's token, and so may read it: the gateway,
/// chat and MCP; api-workflows (a table's schema when a workflow is saved, and the record
/// trigger's webhook), worker-runs (Airtable steps), worker-events (webhook payloads), the
/// scheduler (webhook refreshes), api-sagas (the schemas of a saga's bases, checked at start)
/// and saga-step (every saga's Airtable work).
const TENANT_TOKEN_READERS: [&str; 9] = [
    "api-records",
    "api-chat",
    "api-mcp",
    "api-workflows",
    "worker-runs",
    "worker-events",
    "scheduler",
    "api-sagas",
    "saga-step",
];

/// Resolves the intrinsics a policy resource may use into one concrete string (which may hold
/// IAM wildcards), with parameters at their defaults. `None` when it cannot be resolved; the
/// checks treat that as "could be anything".
struct Resolver<'a> {
    template: &'a Value,
}

impl Resolver<'_> {
    fn resource(&self, id: &str) -> Option<&Value> {
        self.template["Resources"]
            .as_mapping()?
            .get(Value::from(id))
    }

    fn arn_of_secret(&self, id: &str) -> Option<String> {
        let name = self.resolve(&self.resource(id)?["Properties"]["Name"])?;
        Some(secret_arn(&format!("{name}{SECRET_SUFFIX}")))
    }

    /// `Ref` of a parameter (its default), a pseudo parameter, or a resource.
    fn reference(&self, id: &str) -> Option<String> {
        match id {
            "AWS::Partition" => return Some(PARTITION.to_string()),
            "AWS::Region" => return Some(REGION.to_string()),
            "AWS::AccountId" => return Some(ACCOUNT.to_string()),
            "AWS::URLSuffix" => return Some("amazonaws.com".to_string()),
            _ => {}
        }
        if let Some(parameter) = self.template["Parameters"]
            .as_mapping()
            .and_then(|p| p.get(Value::from(id)))
        {
            return match &parameter["Default"] {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
        }
        let resource = self.resource(id)?;
        match resource["Type"].as_str() {
            // Ref of a secret is its ARN.
            Some("AWS::SecretsManager::Secret") => self.arn_of_secret(id),
            _ => Some(format!("ref:{id}")),
        }
    }

    fn attribute(&self, id: &str, attribute: &str) -> Option<String> {
        let resource = self.resource(id)?;
        match (resource["Type"].as_str(), attribute) {
            (Some("AWS::SecretsManager::Secret"), "Id") => self.arn_of_secret(id),
            _ => Some(format!("getatt:{id}.{attribute}")),
        }
    }

    fn substitute(&self, text: &str, variables: Option<&Value>) -> Option<String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}')?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = variables.and_then(|v| v.get(name)) {
                out.push_str(&self.resolve(value)?);
            } else if let Some((id, attribute)) = name.split_once('.') {
                out.push_str(&self.attribute(id, attribute)?);
            } else {
                out.push_str(&self.reference(name)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(out)
    }

    fn resolve(&self, value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Mapping(map) if map.len() == 1 => {
                let (key, argument) = map.iter().next()?;
                match key.as_str()? {
                    "Ref" => self.reference(argument.as_str()?),
                    "Fn::Sub" => match argument {
                        Value::String(text) => self.substitute(text, None),
                        Value::Sequence(parts) => {
                            self.substitute(parts.first()?.as_str()?, parts.get(1))
                        }
                        _ => None,
                    },
                    "Fn::GetAtt" => match argument {
                        Value::Sequence(parts) => {
                            self.attribute(parts.first()?.as_str()?, parts.get(1)?.as_str()?)
                        }
                        Value::String(dotted) => {
                            let (id, attribute) = dotted.split_once('.')?;
                            self.attribute(id, attribute)
                        }
                        _ => None,
                    },
                    "Fn::Join" => {
                        let parts = argument.as_sequence()?;
                        let delimiter = parts.first()?.as_str()?;
                        let items = parts.get(1)?.as_sequence()?;
                        let resolved: Option<Vec<String>> =
                            items.iter().map(|item| self.resolve(item)).collect();
                        Some(resolved?.join(delimiter))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

fn secret_arn(name_with_suffix: &str) -> String {
    format!("arn:{PARTITION}:secretsmanager:{REGION}:{ACCOUNT}:secret:{name_with_suffix}")
}

/// IAM wildcard matching: `*` is any run of characters, `?` exactly one; case-insensitive
/// (right for actions; ARNs in this template differ in more than case).
fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    let text: Vec<char> = text.to_lowercase().chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            backtrack = Some((p, t));
            p += 1;
        } else if let Some((star, matched)) = backtrack {
            p = star + 1;
            t = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

fn strings_of(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// One Allow statement: its actions (patterns) and its resources (resolved; `None` = unknown).
struct Grant {
    sid: String,
    actions: Vec<String>,
    resources: Vec<Option<String>>,
}

impl Grant {
    fn allows(&self, action: &str, arn: &str) -> bool {
        self.actions.iter().any(|a| glob_matches(a, action))
            && self.resources.iter().any(|r| {
                r.as_deref()
                    .is_none_or(|pattern| glob_matches(pattern, arn))
            })
    }

    /// Whether any Secrets Manager action of this grant may apply to the secret.
    fn touches_secret(&self, arn: &str) -> bool {
        let secrets_action = self.actions.iter().any(|a| {
            a.to_lowercase().starts_with("secretsmanager:")
                || glob_matches(a, "secretsmanager:GetSecretValue")
        });
        secrets_action
            && self.resources.iter().any(|r| {
                r.as_deref()
                    .is_none_or(|pattern| glob_matches(pattern, arn))
            })
    }

    /// Like `allows`, but an unresolvable resource does not count: for checks that a grant
    /// exists.
    fn surely_allows(&self, action: &str, arn: &str) -> bool {
        self.actions.iter().any(|a| glob_matches(a, action))
            && self.resources.iter().any(|r| {
                r.as_deref()
                    .is_some_and(|pattern| glob_matches(pattern, arn))
            })
    }
}

/// The Allow statements of a function's inline policies. Anything that would hide a grant from
/// this walk (a shared `Role`, `NotAction`/`NotResource`, a managed policy or SAM policy
/// template about secrets) fails the test instead.
fn function_grants(resolver: &Resolver<'_>, name: &str, function: &Value) -> Vec<Grant> {
    assert!(
        function["Properties"]["Role"].is_null(),
        "{name}: give the function its own Policies instead of a shared Role, so that its grants \
         can be checked"
    );
    let mut grants = Vec::new();
    let policies = match &function["Properties"]["Policies"] {
        Value::Sequence(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    };
    for policy in policies {
        let Some(statements) = policy.get("Statement") else {
            let text = serde_yaml::to_string(&policy).unwrap_or_default();
            assert!(
                !text.to_lowercase().contains("secret"),
                "{name}: grant secrets access in inline statements, not with {text}"
            );
            continue;
        };
        let statements = match statements {
            Value::Sequence(items) => items.clone(),
            other => vec![other.clone()],
        };
        for (index, statement) in statements.iter().enumerate() {
            let sid = statement["Sid"]
                .as_str()
                .map_or_else(|| format!("#{index}"), str::to_string);
            assert!(
                statement.get("NotAction").is_none() && statement.get("NotResource").is_none(),
                "{name} {sid}: NotAction/NotResource grant more than they show"
            );
            if statement["Effect"].as_str() != Some("Allow") {
                continue;
            }
            let resources = match &statement["Resource"] {
                Value::Sequence(items) => items.iter().map(|r| resolver.resolve(r)).collect(),
                other => vec![resolver.resolve(other)],
            };
            grants.push(Grant {
                sid,
                actions: strings_of(&statement["Action"]),
                resources,
            });
        }
    }
    grants
}

/// (logical id, binary, grants) for every function.
fn functions_with_grants(template: &Value) -> Vec<(String, String, Vec<Grant>)> {
    let resolver = Resolver { template };
    resources(template)
        .into_iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(name, function)| {
            let binary = function["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let grants = function_grants(&resolver, &name, &function);
            (name, binary, grants)
        })
        .collect()
}

/// The ARN the template gives the secret with this logical name, checking that it is declared
/// as `SecretsPrefix` + the name, which is what the code asks for.
fn declared_secret_arn(template: &Value, logical_name: &str) -> String {
    let resolver = Resolver { template };
    let prefix = resolver
        .reference("SecretsPrefix")
        .expect("a SecretsPrefix parameter with a default");
    let wanted = format!("{prefix}{logical_name}");
    let declared: Vec<String> = resources(template)
        .into_iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::SecretsManager::Secret"))
        .filter_map(|(_, r)| resolver.resolve(&r["Properties"]["Name"]))
        .collect();
    assert!(
        declared.contains(&wanted),
        "the template declares no secret named {wanted:?} (declared: {declared:?})"
    );
    secret_arn(&format!("{wanted}{SECRET_SUFFIX}"))
}

#[test]
fn secrets_manager_access_is_least_privilege() {
    let template = template();
    // Every function finds its secrets under SECRETS_PREFIX, which must be the stack's prefix.
    let prefix_variable =
        &template["Globals"]["Function"]["Environment"]["Variables"]["SECRETS_PREFIX"];
    assert_eq!(
        prefix_variable["Ref"].as_str(),
        Some("SecretsPrefix"),
        "Globals must pass SECRETS_PREFIX: Ref SecretsPrefix"
    );
    for (name, resource) in resources(&template) {
        if resource["Type"].as_str() == Some("AWS::Serverless::Function") {
            let own = &resource["Properties"]["Environment"]["Variables"]["SECRETS_PREFIX"];
            assert!(
                own.is_null() || own == prefix_variable,
                "{name} overrides SECRETS_PREFIX"
            );
        }
    }

    let seed = declared_secret_arn(&template, &signing_seed_name());
    let verify_keys = declared_secret_arn(&template, &verify_keys_name());
    let resolver = Resolver {
        template: &template,
    };
    let tenant_token = secret_arn(&format!(
        "{}{TENANT_TOKEN_NAME}{SECRET_SUFFIX}",
        resolver.reference("SecretsPrefix").unwrap_or_default()
    ));
    const WRITES: [&str; 3] = [
        "secretsmanager:PutSecretValue",
        "secretsmanager:CreateSecret",
        "secretsmanager:DeleteSecret",
    ];
    let authenticated: BTreeSet<&str> = http_api::routes::route_table()
        .into_iter()
        .filter(|r| r.access == http_api::Access::Authenticated)
        .map(|r| r.function)
        .collect();

    let functions = functions_with_grants(&template);
    let mut seen = BTreeSet::new();
    for (name, binary, grants) in &functions {
        seen.insert(binary.as_str());
        for grant in grants {
            assert!(
                !grant.touches_secret(&seed) || binary == "api-auth",
                "{name} ({binary}) {}: only api-auth may have access to the token signing seed",
                grant.sid
            );
            for action in WRITES {
                assert!(
                    !grant.allows(action, &tenant_token) || binary == "api-connections",
                    "{name} ({binary}) {}: only api-connections may {action} tenants' Airtable \
                     tokens",
                    grant.sid
                );
            }
        }
        for grant in grants {
            assert!(
                !grant.allows("secretsmanager:GetSecretValue", &tenant_token)
                    || TENANT_TOKEN_READERS.contains(&binary.as_str()),
                "{name} ({binary}) {}: only {TENANT_TOKEN_READERS:?} may read tenants' Airtable \
                 tokens",
                grant.sid
            );
        }
        let can = |action: &str, arn: &str| grants.iter().any(|g| g.surely_allows(action, arn));
        if TENANT_TOKEN_READERS.contains(&binary.as_str()) {
            assert!(
                can("secretsmanager:GetSecretValue", &tenant_token),
                "{name} ({binary}) calls Airtable for tenants: it must read their tokens"
            );
        }
        if binary == "api-auth" {
            assert!(
                can("secretsmanager:GetSecretValue", &seed),
                "api-auth must read the signing seed"
            );
            assert!(
                can("secretsmanager:PutSecretValue", &verify_keys),
                "api-auth publishes its public key: PutSecretValue on the verify keys"
            );
        }
        if binary == "api-connections" {
            for action in WRITES {
                assert!(
                    can(action, &tenant_token),
                    "api-connections needs {action} on tenants' Airtable tokens"
                );
            }
        }
        if authenticated.contains(binary.as_str()) {
            assert!(
                can("secretsmanager:GetSecretValue", &verify_keys),
                "{name} ({binary}) serves authenticated routes: it must GetSecretValue the \
                 token verification keys"
            );
        }
    }
    for function in &authenticated {
        assert!(
            seen.contains(function),
            "{function} serves authenticated routes but has no function in the template"
        );
    }
}

// ---------------------------------------------------------------- least privilege on sagas

/// (logical id, machine name: its ASL file's name without `.asl.json`) of every state machine.
fn state_machines(template: &Value) -> Vec<(String, String)> {
    resources(template)
        .into_iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::StateMachine"))
        .map(|(id, machine)| {
            let uri = machine["Properties"]["DefinitionUri"]
                .as_str()
                .unwrap_or_else(|| panic!("{id}: no DefinitionUri"));
            let name = uri
                .rsplit('/')
                .next()
                .and_then(|file| file.strip_suffix(".asl.json"))
                .unwrap_or_else(|| panic!("{id}: {uri} is not a .asl.json file"));
            (id, name.to_string())
        })
        .collect()
}

/// The machines may invoke saga-step and nothing else: each has exactly one policy, SAM's
/// `LambdaInvokePolicy` on the saga-step function, and no role of its own.
#[test]
fn state_machines_may_invoke_only_saga_step() {
    let template = template();
    let machines = state_machines(&template);
    assert!(
        !machines.is_empty(),
        "the template declares no state machine"
    );
    for (id, _) in &machines {
        let properties = &template["Resources"][id.as_str()]["Properties"];
        assert!(properties["Role"].is_null(), "{id}: no shared Role");
        let policies = properties["Policies"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{id}: Policies"));
        assert_eq!(policies.len(), 1, "{id}: one policy, to invoke saga-step");
        let function = policies[0]["LambdaInvokePolicy"]["FunctionName"]["Ref"]
            .as_str()
            .unwrap_or_else(|| {
                panic!("{id}: LambdaInvokePolicy with FunctionName: Ref <function>")
            });
        assert_eq!(
            template["Resources"][function]["Metadata"]["BuildProperties"]["Binary"].as_str(),
            Some("saga-step"),
            "{id} may invoke {function}, which is not saga-step"
        );
    }
}

/// Only the functions given the machines' ARNs (`STATE_MACHINE_ARNS`, a JSON object that names
/// every machine by its file name) may use Step Functions, and only on those machines and their
/// executions.
#[test]
fn only_the_saga_api_drives_the_saga_machines() {
    let template = template();
    let resolver = Resolver {
        template: &template,
    };
    let machines = state_machines(&template);
    let mut starters = BTreeSet::new();
    for (name, function) in resources(&template)
        .into_iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
    {
        let variable = &function["Properties"]["Environment"]["Variables"]["STATE_MACHINE_ARNS"];
        if variable.is_null() {
            continue;
        }
        let text = resolver
            .resolve(variable)
            .unwrap_or_else(|| panic!("{name}: STATE_MACHINE_ARNS does not resolve"));
        let arns: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|err| panic!("{name}: STATE_MACHINE_ARNS is not JSON: {err}"));
        let expected: serde_json::Map<String, serde_json::Value> = machines
            .iter()
            .map(|(id, machine)| (machine.clone(), format!("ref:{id}").into()))
            .collect();
        assert_eq!(
            arns,
            serde_json::Value::Object(expected),
            "{name}: STATE_MACHINE_ARNS maps each machine's name to its Ref (its ARN)"
        );
        starters.insert(name);
    }
    assert!(!starters.is_empty(), "no function starts the saga machines");
    let machine_arns: Vec<String> = machines.iter().map(|(id, _)| format!("ref:{id}")).collect();
    let execution_arns: Vec<String> = machines
        .iter()
        .map(|(id, _)| {
            format!("arn:{PARTITION}:states:{REGION}:{ACCOUNT}:execution:getatt:{id}.Name:*")
        })
        .collect();
    for (name, binary, grants) in functions_with_grants(&template) {
        for grant in &grants {
            if !grant
                .actions
                .iter()
                .any(|action| action.to_lowercase().starts_with("states:") || action == "*")
            {
                continue;
            }
            assert!(
                starters.contains(&name),
                "{name} ({binary}) {}: only a function given STATE_MACHINE_ARNS may use Step \
                 Functions",
                grant.sid
            );
            for action in &grant.actions {
                let allowed: &[String] = match action.as_str() {
                    "states:StartExecution" => &machine_arns,
                    "states:DescribeExecution" | "states:StopExecution" => &execution_arns,
                    other => panic!("{name} {}: {other} is more than sagas need", grant.sid),
                };
                for resource in &grant.resources {
                    let resource = resource.as_deref().unwrap_or_else(|| {
                        panic!("{name} {}: a resource that does not resolve", grant.sid)
                    });
                    assert!(
                        allowed.iter().any(|arn| arn == resource),
                        "{name} {}: {action} on {resource}, not on a saga machine",
                        grant.sid
                    );
                }
            }
        }
        if starters.contains(&name) {
            let can = |action: &str, arn: &str| grants.iter().any(|g| g.surely_allows(action, arn));
            for (id, _) in &machines {
                assert!(
                    can("states:StartExecution", &format!("ref:{id}")),
                    "{name} must start {id}"
                );
            }
        }
    }
}

#[test]
fn the_wildcard_matcher_follows_iam() {
    assert!(glob_matches(
        "secretsmanager:*",
        "secretsmanager:GetSecretValue"
    ));
    assert!(glob_matches("*", "anything"));
    assert!(glob_matches(
        "arn:aws:secretsmanager:*:*:secret:p/tenants/*/airtable-token-??????",
        "arn:aws:secretsmanager:eu-west-1:1:secret:p/tenants/ten_a/airtable-token-AbC123"
    ));
    assert!(!glob_matches(
        "arn:aws:secretsmanager:*:*:secret:p/tenants/*/airtable-token-??????",
        "arn:aws:secretsmanager:eu-west-1:1:secret:p/auth/jwt-signing-seed-AbC123"
    ));
    assert!(!glob_matches(
        "secretsmanager:Put*",
        "secretsmanager:GetSecretValue"
    ));
}

// ---------------------------------------------------------------- sample events

fn event_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read events/")
        .map(|entry| entry.expect("an events/ entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

/// Whether a concrete path fits a route path whose `{name}` segments match any one segment.
fn path_fits(route: &str, path: &str) -> bool {
    let route: Vec<&str> = route.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    route.len() == path.len()
        && route.iter().zip(&path).all(|(r, p)| {
            if r.starts_with('{') && r.ends_with('}') {
                !p.is_empty()
            } else {
                r == p
            }
        })
}

#[test]
fn sample_http_events_parse_and_name_real_routes() {
    let routes = http_api::routes::route_table();
    let files = event_files();
    assert!(!files.is_empty(), "events/ holds no sample events");
    for file in files {
        let shown = file.display().to_string();
        let text = std::fs::read_to_string(&file).expect("read an event");
        let event: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|err| panic!("{shown}: not JSON: {err}"));
        let Some(route_key) = event.get("routeKey").and_then(|v| v.as_str()) else {
            continue; // not an API Gateway event
        };
        assert_eq!(event["version"], "2.0", "{shown}: HTTP API payload 2.0");
        let (method, route_path) = route_key
            .split_once(' ')
            .unwrap_or_else(|| panic!("{shown}: routeKey {route_key:?} is not \"METHOD /path\""));
        let route = routes
            .iter()
            .find(|r| r.method == method && r.path == route_path)
            .unwrap_or_else(|| panic!("{shown}: no route {route_key:?} in the route table"));
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        assert!(
            stem.starts_with(route.function),
            "{shown}: {route_key} is served by {}; name the file after it",
            route.function
        );
        let raw_path = event["rawPath"].as_str().expect("rawPath");
        assert!(
            path_fits(route_path, raw_path),
            "{shown}: rawPath {raw_path:?} does not fit {route_path:?}"
        );
        let context = &event["requestContext"];
        assert_eq!(
            context["routeKey"], route_key,
            "{shown}: requestContext.routeKey"
        );
        assert_eq!(
            context["http"]["method"], method,
            "{shown}: requestContext.http.method"
        );
        assert_eq!(
            context["http"]["path"], raw_path,
            "{shown}: requestContext.http.path"
        );
        assert!(
            event["isBase64Encoded"].is_boolean(),
            "{shown}: isBase64Encoded"
        );
        if let Some(body) = event.get("body") {
            let body = body
                .as_str()
                .unwrap_or_else(|| panic!("{shown}: body must be a string"));
            let json_body = event["headers"]["content-type"]
                .as_str()
                .is_some_and(|t| t.starts_with("application/json"));
            if json_body && event["isBase64Encoded"] == false {
                serde_json::from_str::<serde_json::Value>(body)
                    .unwrap_or_else(|err| panic!("{shown}: body is not JSON: {err}"));
            }
        }
        if route.access == http_api::Access::Authenticated {
            let authorization = event["headers"]["authorization"].as_str().unwrap_or("");
            assert!(
                authorization.starts_with("Bearer "),
                "{shown}: {route_key} needs an authorization: Bearer header"
            );
        }
    }
}

// ---------------------------------------------------------------- non-HTTP event sources

fn infra_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../infra")
}

#[test]
fn template_event_sources_equal_the_code() {
    if let Err(problems) = event_sources::compare_event_sources(
        &template(),
        &infra_dir(),
        triggers::sources::EVENT_SOURCES,
    ) {
        panic!("event sources differ:\n{problems}");
    }
}

/// Each queue the code names is the template queue its `QUEUE_*_URL` variable refers to, of
/// the same kind (FIFO or not), redriving into the code's dead-letter queue, and hiding a
/// received message as long as the dev server's worker does.
#[test]
fn queues_match_the_queue_port_and_the_local_worker() {
    let template = template();
    let variables = &template["Globals"]["Function"]["Environment"]["Variables"];
    let resource_of = |queue: ports::QueueName| -> String {
        let variable = event_sources::queue_variable(queue);
        variables[variable.as_str()]["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("Globals set no {variable}: Ref <queue>"))
            .to_string()
    };
    for queue in ports::QueueName::ALL {
        let id = resource_of(queue);
        let resource = &template["Resources"][id.as_str()];
        assert_eq!(resource["Type"], "AWS::SQS::Queue", "{queue}: {id}");
        let properties = &resource["Properties"];
        assert_eq!(
            properties["FifoQueue"].as_bool().unwrap_or(false),
            queue.is_fifo(),
            "{queue}: {id}.FifoQueue"
        );
        match queue.dead_letter_queue() {
            Some(dlq) => {
                assert_eq!(
                    properties["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0].as_str(),
                    Some(resource_of(dlq).as_str()),
                    "{queue}: {id} redrives into the {dlq} queue"
                );
                assert_eq!(
                    properties["VisibilityTimeout"].as_u64(),
                    Some(triggers::local::VISIBILITY_TIMEOUT.as_secs()),
                    "{queue}: {id}.VisibilityTimeout equals triggers::local::VISIBILITY_TIMEOUT"
                );
            }
            None => assert!(
                properties["RedrivePolicy"].is_null(),
                "{queue}: {id} is a dead-letter queue"
            ),
        }
    }
}

/// The sample events of the other triggers parse as the runners read them.
#[test]
fn sample_trigger_events_parse() {
    let mut kinds = BTreeSet::new();
    for file in event_files() {
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let text = std::fs::read_to_string(&file).expect("read an event");
        let kind = stem.split('-').next().unwrap_or_default().to_string();
        match kind.as_str() {
            "sqs" => {
                let event: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                let records = event["Records"].as_array().expect("Records");
                assert!(!records.is_empty(), "{stem}: no records");
                for record in records {
                    for field in ["messageId", "receiptHandle", "body", "eventSourceARN"] {
                        assert!(record[field].is_string(), "{stem}: {field}");
                    }
                    assert!(
                        record["attributes"]["ApproximateReceiveCount"].is_string(),
                        "{stem}: attributes.ApproximateReceiveCount"
                    );
                    // Every body that is JSON is the message its queue's consumer reads.
                    if let Some(body) = record["body"]
                        .as_str()
                        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
                    {
                        if stem.starts_with("sqs-runs") {
                            serde_json::from_value::<automations::RunMessage>(body)
                                .unwrap_or_else(|e| panic!("{stem}: not a run message: {e}"));
                        } else if stem.starts_with("sqs-events") {
                            serde_json::from_value::<automations::EventMessage>(body)
                                .unwrap_or_else(|e| panic!("{stem}: not an event message: {e}"));
                        }
                    }
                    let fifo = record["eventSourceARN"]
                        .as_str()
                        .is_some_and(|arn| arn.ends_with(".fifo"));
                    assert_eq!(
                        record["attributes"]["MessageGroupId"].is_string(),
                        fifo,
                        "{stem}: a FIFO record, and only a FIFO record, has a MessageGroupId"
                    );
                }
            }
            "schedule" => {
                let event: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                assert_eq!(event["detail-type"], "Scheduled Event", "{stem}");
                assert_eq!(event["source"], "aws.events", "{stem}");
                assert!(event["time"].is_string(), "{stem}: time");
            }
            "task" => {
                let input: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                assert!(input.is_object(), "{stem}: a task input is a JSON object");
                // The saga machines' Payload, as saga-step reads it: an action it knows, with
                // the chunk index the action needs.
                if stem.starts_with("task-saga-step") {
                    let task: sagas::steps::TaskInput = serde_json::from_value(input)
                        .unwrap_or_else(|e| panic!("{stem}: not a saga-step input: {e}"));
                    let action = sagas::steps::Action::parse(&task.action)
                        .unwrap_or_else(|| panic!("{stem}: unknown action {:?}", task.action));
                    assert!(
                        task.index.is_some() || !action.takes_index(),
                        "{stem}: {} needs an index",
                        task.action
                    );
                }
            }
            _ => continue,
        }
        kinds.insert(kind);
    }
    assert_eq!(
        kinds,
        BTreeSet::from(["schedule".to_string(), "sqs".into(), "task".into()]),
        "a sample event for each trigger"
    );
}
