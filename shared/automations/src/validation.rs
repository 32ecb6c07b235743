//! Save-time validation of a workflow: everything that can be known wrong before a run starts
//! is refused here, each problem with the JSON path of the offending field
//! (`/steps/2/fields/Stage`, `/trigger/cron`), so `POST /v1/workflows/validate` and a refused
//! save say exactly what to fix. A run then fails only on what depends on data.
//!
//! Field names are checked against the table's schema through [`SchemaLookup`], once per
//! (base, table) whatever the number of fields named; a lookup that fails (no connection,
//! Airtable down) is a problem at the table's path, never an internal error, because the user
//! can act on it. Bases and tables given as templates are known only at run time and are not
//! looked up.

mod gateway_schema;

use std::collections::{BTreeMap, HashMap, HashSet};

use airtable::{BaseId, TableRef};
use serde_json::Value;

use crate::cron::CronSchedule;
use crate::error::Problem;
use crate::model::{Condition, Step, StepKind, Trigger, WorkflowSpec};
use crate::seams::SchemaLookup;
use crate::template;

pub use gateway_schema::GatewaySchema;

/// The largest workflow, as JSON: generous for 50 steps, small enough for one store item and
/// one queue message's worth of run snapshot.
pub const MAX_SPEC_BYTES: usize = 64 * 1024;
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
pub const MAX_STEPS: usize = 50;
/// The longest `delay`: longer waits belong to a schedule.
pub const MAX_DELAY_SECONDS: u64 = 7 * 24 * 3600;
pub const MAX_HTTP_TIMEOUT_SECONDS: u32 = 30;
/// One page: `airtable.list` reads a single page of Airtable's records.
pub use crate::steps::airtable::MAX_LIST_RECORDS;
const HTTP_METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

/// Every problem in `spec` for `tenant_id` (empty when it may be saved).
pub async fn validate(
    spec: &WorkflowSpec,
    tenant_id: &str,
    schema: &dyn SchemaLookup,
) -> Vec<Problem> {
    let size = serde_json::to_vec(spec)
        .map(|json| json.len())
        .unwrap_or(usize::MAX);
    if size > MAX_SPEC_BYTES {
        return vec![Problem::new(
            "/",
            format!("the workflow is {size} bytes of JSON; the limit is {MAX_SPEC_BYTES}"),
        )];
    }
    let mut validator = Validator {
        tenant_id,
        schema,
        problems: Vec::new(),
        tables: HashMap::new(),
    };
    validator.shape(spec);
    validator.trigger(&spec.trigger).await;
    for (index, step) in spec.steps.iter().enumerate() {
        validator.step(index, step, &spec.steps).await;
    }
    validator.problems
}

/// A table's fields as looked up, or why they could not be.
type Lookup = Result<Option<HashSet<String>>, String>;

struct Validator<'a> {
    tenant_id: &'a str,
    schema: &'a dyn SchemaLookup,
    problems: Vec<Problem>,
    tables: HashMap<(String, String), Lookup>,
}

impl Validator<'_> {
    fn problem(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::new(path, message));
    }

    fn shape(&mut self, spec: &WorkflowSpec) {
        let name_chars = spec.name.chars().count();
        if spec.name.trim().is_empty() || name_chars > MAX_NAME_CHARS {
            self.problem(
                "/name",
                format!("a name is 1 to {MAX_NAME_CHARS} characters, not blank"),
            );
        }
        if spec.description.chars().count() > MAX_DESCRIPTION_CHARS {
            self.problem(
                "/description",
                format!("a description is at most {MAX_DESCRIPTION_CHARS} characters"),
            );
        }
        if spec.steps.is_empty() || spec.steps.len() > MAX_STEPS {
            self.problem(
                "/steps",
                format!(
                    "a workflow has 1 to {MAX_STEPS} steps, not {}",
                    spec.steps.len()
                ),
            );
        }
        let mut seen = HashSet::new();
        for (index, step) in spec.steps.iter().enumerate() {
            if !is_step_id(&step.id) {
                self.problem(
                    format!("/steps/{index}/id"),
                    "a step id is a lowercase letter then up to 63 lowercase letters, digits or underscores",
                );
            } else if !seen.insert(step.id.as_str()) {
                self.problem(
                    format!("/steps/{index}/id"),
                    format!("the step id {:?} is used twice", step.id),
                );
            }
        }
    }

    async fn trigger(&mut self, trigger: &Trigger) {
        match trigger {
            Trigger::Manual | Trigger::Webhook => {}
            Trigger::Schedule { cron, timezone } => {
                if let Err(err) = CronSchedule::parse(cron, timezone) {
                    self.problems.push(err.to_problem("/trigger"));
                }
            }
            Trigger::RecordCreated { base, table } | Trigger::RecordDeleted { base, table } => {
                self.literal_table("/trigger", base, table).await;
            }
            Trigger::RecordUpdated {
                base,
                table,
                fields,
            } => {
                let known = self.literal_table("/trigger", base, table).await;
                self.fields_exist(&known, "/trigger/fields", fields.iter().enumerate());
            }
        }
    }

    async fn step(&mut self, index: usize, step: &Step, steps: &[Step]) {
        let at = format!("/steps/{index}");
        match &step.kind {
            StepKind::AirtableList {
                base,
                table,
                filter,
                view,
                fields,
                max_records,
            } => {
                let known = self.airtable_table(&at, base, table).await;
                self.fields_exist(&known, &format!("{at}/fields"), fields.iter().enumerate());
                if let Some(filter) = filter {
                    self.template(&format!("{at}/filter"), filter);
                }
                if let Some(view) = view {
                    self.template(&format!("{at}/view"), view);
                }
                if max_records.is_some_and(|n| n == 0 || n > MAX_LIST_RECORDS) {
                    self.problem(
                        format!("{at}/max_records"),
                        format!("max_records is 1 to {MAX_LIST_RECORDS}"),
                    );
                }
            }
            StepKind::AirtableGet {
                base,
                table,
                record,
            }
            | StepKind::AirtableDelete {
                base,
                table,
                record,
            } => {
                self.airtable_table(&at, base, table).await;
                self.template(&format!("{at}/record"), record);
            }
            StepKind::AirtableCreate {
                base,
                table,
                fields,
                ..
            } => {
                let known = self.airtable_table(&at, base, table).await;
                self.cells(&known, &at, fields);
            }
            StepKind::AirtableUpdate {
                base,
                table,
                record,
                fields,
                ..
            } => {
                let known = self.airtable_table(&at, base, table).await;
                self.template(&format!("{at}/record"), record);
                self.cells(&known, &at, fields);
            }
            StepKind::AirtableUpsert {
                base,
                table,
                merge_on,
                fields,
                ..
            } => {
                let known = self.airtable_table(&at, base, table).await;
                if merge_on.is_empty() || merge_on.len() > 3 {
                    self.problem(
                        format!("{at}/merge_on"),
                        "merge_on names 1 to 3 fields (Airtable's limit)",
                    );
                }
                self.fields_exist(
                    &known,
                    &format!("{at}/merge_on"),
                    merge_on.iter().enumerate(),
                );
                self.cells(&known, &at, fields);
            }
            StepKind::Llm {
                model,
                system,
                prompt,
            } => {
                if prompt.trim().is_empty() {
                    self.problem(format!("{at}/prompt"), "the prompt is empty");
                }
                self.template(&format!("{at}/prompt"), prompt);
                if let Some(system) = system {
                    self.template(&format!("{at}/system"), system);
                }
                if let Some(model) = model {
                    self.template(&format!("{at}/model"), model);
                }
            }
            StepKind::Http {
                method,
                url,
                headers,
                body,
                timeout_seconds,
                ..
            } => {
                if !HTTP_METHODS.contains(&method.to_ascii_uppercase().as_str()) {
                    self.problem(
                        format!("{at}/method"),
                        format!("the method is one of {}", HTTP_METHODS.join(", ")),
                    );
                }
                self.url(&format!("{at}/url"), url);
                for (name, value) in headers {
                    let path = format!("{at}/headers/{}", pointer_escape(name));
                    if !is_header_name(name) {
                        self.problem(path.clone(), "not a valid header name");
                    } else if crate::steps::http::is_reserved(name) {
                        self.problem(path.clone(), "the step sets this header itself");
                    } else {
                        // The outbound client's own header rules (hop-by-hop headers, CR or LF
                        // in a value), so a run never fails on what saving accepted. A
                        // template's value is checked when it is rendered.
                        let value = if crate::template::is_template(value) {
                            "x"
                        } else {
                            value
                        };
                        if let Err(problem) = outbound_http::rules::parse_headers(&[(
                            name.clone(),
                            value.to_string(),
                        )]) {
                            self.problem(path.clone(), problem);
                        }
                    }
                    self.template(&path, value);
                }
                if let Some(body) = body {
                    self.templates_in(&format!("{at}/body"), body);
                }
                if timeout_seconds.is_some_and(|n| n == 0 || n > MAX_HTTP_TIMEOUT_SECONDS) {
                    self.problem(
                        format!("{at}/timeout_seconds"),
                        format!("timeout_seconds is 1 to {MAX_HTTP_TIMEOUT_SECONDS}"),
                    );
                }
            }
            StepKind::Condition { when, otherwise } => {
                self.condition(&format!("{at}/when"), when);
                if let Some(target) = otherwise {
                    let later = steps.iter().skip(index + 1).any(|step| &step.id == target);
                    if !later {
                        self.problem(
                            format!("{at}/otherwise"),
                            format!("{target:?} is not the id of a later step"),
                        );
                    }
                }
            }
            StepKind::Delay { seconds } => {
                if *seconds == 0 || *seconds > MAX_DELAY_SECONDS {
                    self.problem(
                        format!("{at}/seconds"),
                        format!("a delay is 1 to {MAX_DELAY_SECONDS} seconds (7 days)"),
                    );
                }
            }
            StepKind::Set { values } => {
                for (name, value) in values {
                    self.templates_in(&format!("{at}/values/{}", pointer_escape(name)), value);
                }
            }
        }
    }

    fn condition(&mut self, path: &str, condition: &Condition) {
        match condition {
            Condition::All { all } => {
                for (i, inner) in all.iter().enumerate() {
                    self.condition(&format!("{path}/all/{i}"), inner);
                }
            }
            Condition::Any { any } => {
                for (i, inner) in any.iter().enumerate() {
                    self.condition(&format!("{path}/any/{i}"), inner);
                }
            }
            Condition::Not { not } => self.condition(&format!("{path}/not"), not),
            Condition::Compare(comparison) => {
                self.templates_in(&format!("{path}/left"), &comparison.left);
                self.templates_in(&format!("{path}/right"), &comparison.right);
            }
        }
    }

    fn template(&mut self, path: &str, source: &str) {
        if let Err(why) = template::check(source) {
            self.problem(path, format!("the template does not compile: {why}"));
        }
    }

    /// Checks every string inside a JSON value, with its own path.
    fn templates_in(&mut self, path: &str, value: &Value) {
        match value {
            Value::String(source) => self.template(path, source),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.templates_in(&format!("{path}/{i}"), item);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    self.templates_in(&format!("{path}/{}", pointer_escape(key)), item);
                }
            }
            _ => {}
        }
    }

    fn url(&mut self, path: &str, url: &str) {
        if template::is_template(url) {
            self.template(path, url);
            return;
        }
        let absolute = url::Url::parse(url).ok().filter(|parsed| {
            matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some()
        });
        if absolute.is_none() {
            self.problem(
                path,
                "the url is an absolute http:// or https:// URL, or a template",
            );
        }
    }

    /// A `fields` map's keys must be fields of the table; its values are templates.
    fn cells(
        &mut self,
        known: &Option<HashSet<String>>,
        at: &str,
        fields: &BTreeMap<String, Value>,
    ) {
        for (name, value) in fields {
            let path = format!("{at}/fields/{}", pointer_escape(name));
            if let Some(known) = known
                && !known.contains(name)
            {
                self.problem(path.clone(), format!("the table has no field {name:?}"));
            }
            self.templates_in(&path, value);
        }
    }

    fn fields_exist<'n>(
        &mut self,
        known: &Option<HashSet<String>>,
        at: &str,
        names: impl Iterator<Item = (usize, &'n String)>,
    ) {
        let Some(known) = known else { return };
        for (i, name) in names {
            if !known.contains(name) {
                self.problem(
                    format!("{at}/{i}"),
                    format!("the table has no field {name:?}"),
                );
            }
        }
    }

    /// A step's base and table: templates are checked to compile, literals are looked up.
    async fn airtable_table(
        &mut self,
        at: &str,
        base: &str,
        table: &str,
    ) -> Option<HashSet<String>> {
        let base_templated = template::is_template(base);
        let table_templated = template::is_template(table);
        if base_templated {
            self.template(&format!("{at}/base"), base);
        }
        if table_templated {
            self.template(&format!("{at}/table"), table);
        }
        if base_templated || table_templated {
            return None;
        }
        self.literal_table(at, base, table).await
    }

    /// Looks a literal base and table up (once per pair); the table's fields by name and id,
    /// or `None` after recording why not.
    async fn literal_table(
        &mut self,
        at: &str,
        base: &str,
        table: &str,
    ) -> Option<HashSet<String>> {
        if let Err(err) = BaseId::parse(base) {
            self.problem(format!("{at}/base"), err.to_string());
            return None;
        }
        if let Err(err) = TableRef::parse(table) {
            self.problem(format!("{at}/table"), err.to_string());
            return None;
        }
        let pair = (base.to_string(), table.to_string());
        if !self.tables.contains_key(&pair) {
            let found = match self.schema.table_fields(self.tenant_id, base, table).await {
                Ok(found) => Ok(found.map(|fields| fields.into_iter().collect())),
                Err(err) => Err(err.to_string()),
            };
            self.tables.insert(pair.clone(), found);
        }
        match self.tables.get(&pair).cloned() {
            Some(Ok(Some(fields))) => Some(fields),
            Some(Ok(None)) => {
                self.problem(
                    format!("{at}/table"),
                    format!("the base {base} has no table {table:?}"),
                );
                None
            }
            Some(Err(why)) => {
                self.problem(
                    format!("{at}/table"),
                    format!("the table's fields could not be read: {why}"),
                );
                None
            }
            None => None,
        }
    }
}

/// `^[a-z][a-z0-9_]{0,63}$`: what templates can name as `steps.<id>` without quoting.
pub fn is_step_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && id.len() <= 64
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// An HTTP token (RFC 9110): visible ASCII without separators.
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Escapes a key for a JSON pointer segment (RFC 6901).
pub fn pointer_escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use serde_json::json;

    use super::*;
    use crate::error::AutomationError;

    const BASE: &str = "appAAAAAAAAAAAAAA";

    /// Deals(Name, Status, Amount as fldAmount) and Tasks(Name, Deal); counts lookups.
    #[derive(Debug, Default)]
    struct FakeSchema {
        lookups: Mutex<Vec<String>>,
        fail: bool,
    }

    #[async_trait]
    impl SchemaLookup for FakeSchema {
        async fn table_fields(
            &self,
            _tenant_id: &str,
            base: &str,
            table: &str,
        ) -> Result<Option<Vec<String>>, AutomationError> {
            self.lookups
                .lock()
                .expect("lock")
                .push(format!("{base}/{table}"));
            if self.fail {
                return Err(AutomationError::NotConnected(
                    "no Airtable connection".into(),
                ));
            }
            let fields: &[&str] = match (base, table) {
                (BASE, "Deals") => &["Name", "Status", "Amount", "fldAmount"],
                (BASE, "Tasks") => &["Name", "Deal"],
                _ => return Ok(None),
            };
            Ok(Some(fields.iter().map(|f| f.to_string()).collect()))
        }
    }

    fn spec(value: Value) -> WorkflowSpec {
        serde_json::from_value(value).expect("spec")
    }

    fn good() -> Value {
        json!({
            "name": "Won deals",
            "trigger": {"type": "record_updated", "base": BASE, "table": "Deals", "fields": ["Status"]},
            "steps": [
                {"id": "won", "type": "condition", "when": {"left": "{{ trigger.fields.Status }}", "op": "equals", "right": "Won"}, "otherwise": "vals"},
                {"id": "task", "type": "airtable.create", "base": BASE, "table": "Tasks", "fields": {"Name": "Onboard {{ trigger.fields.Name }}", "Deal": ["{{ trigger.record_id }}"]}},
                {"id": "sync", "type": "airtable.upsert", "base": BASE, "table": "Deals", "merge_on": ["Name"], "fields": {"fldAmount": 1}},
                {"id": "notify", "type": "http", "url": "https://example.com/hook", "body": {"deal": "{{ trigger.record_id }}"}, "sign": true, "timeout_seconds": 10},
                {"id": "vals", "type": "set", "values": {"x": "{{ steps.task.output.id }}"}}
            ]
        })
    }

    async fn problems(value: Value) -> Vec<Problem> {
        validate(&spec(value), "ten_1", &FakeSchema::default()).await
    }

    fn paths(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.path.as_str()).collect()
    }

    #[tokio::test]
    async fn a_good_workflow_has_no_problems_and_each_table_is_looked_up_once() {
        let schema = FakeSchema::default();
        let found = validate(&spec(good()), "ten_1", &schema).await;
        assert_eq!(found, vec![]);
        let mut lookups = schema.lookups.lock().expect("lock").clone();
        lookups.sort();
        assert_eq!(lookups, [format!("{BASE}/Deals"), format!("{BASE}/Tasks")]);
    }

    #[tokio::test]
    async fn unknown_fields_are_refused_where_they_are_named() {
        let mut value = good();
        value["trigger"]["fields"] = json!(["Status", "Stage"]);
        value["steps"][1]["fields"]["Stage/Phase"] = json!("x");
        value["steps"][2]["merge_on"] = json!(["Nom"]);
        let found = problems(value).await;
        assert_eq!(
            paths(&found),
            [
                "/trigger/fields/1",
                "/steps/1/fields/Stage~1Phase",
                "/steps/2/merge_on/0"
            ]
        );
    }

    #[tokio::test]
    async fn unknown_tables_bad_bases_and_failing_lookups_are_problems_at_the_table() {
        let mut value = good();
        value["trigger"]["table"] = json!("Nope");
        value["steps"][1]["base"] = json!("notabase");
        let found = problems(value).await;
        assert_eq!(paths(&found), ["/trigger/table", "/steps/1/base"]);

        let failing = FakeSchema {
            fail: true,
            ..FakeSchema::default()
        };
        let found = validate(&spec(good()), "ten_1", &failing).await;
        assert_eq!(
            paths(&found),
            ["/trigger/table", "/steps/1/table", "/steps/2/table"]
        );
        assert!(
            found[0].message.contains("no Airtable connection"),
            "{found:?}"
        );
        // Templated bases and tables are known at run time only.
        let mut value = good();
        value["steps"][1]["table"] = json!("{{ input.table }}");
        value["steps"][1]["fields"]["Whatever"] = json!(1);
        assert_eq!(problems(value).await, vec![]);
    }

    #[tokio::test]
    async fn templates_that_do_not_compile_are_refused_with_their_path() {
        let mut value = good();
        value["steps"][0]["when"]["left"] = json!("{{ trigger.fields.Status ");
        value["steps"][1]["fields"]["Name"] = json!("{% if %}");
        value["steps"][3]["body"] = json!({"a": [1, "{{ }}"]});
        let found = problems(value).await;
        assert_eq!(
            paths(&found),
            [
                "/steps/0/when/left",
                "/steps/1/fields/Name",
                "/steps/3/body/a/1"
            ]
        );
    }

    #[tokio::test]
    async fn the_shape_rules_hold() {
        let mut value = good();
        value["name"] = json!("  ");
        value["description"] = json!("d".repeat(2001));
        value["steps"][1]["id"] = json!("Task");
        value["steps"][2]["id"] = json!("won");
        value["steps"][0]["otherwise"] = json!("missing");
        let found = problems(value).await;
        assert_eq!(
            paths(&found),
            [
                "/name",
                "/description",
                "/steps/1/id",
                "/steps/2/id",
                "/steps/0/otherwise"
            ]
        );
        // `otherwise` jumps forward only.
        let mut value = good();
        value["steps"][4] = json!({"id": "vals", "type": "condition", "when": {"left": 1, "op": "equals", "right": 1}, "otherwise": "task"});
        assert_eq!(paths(&problems(value).await), ["/steps/4/otherwise"]);
        let mut value = good();
        value["steps"] = json!([]);
        assert_eq!(paths(&problems(value).await), ["/steps"]);
        let mut value = good();
        value["steps"] = json!(
            (0..51)
                .map(|i| json!({"id": format!("s{i}"), "type": "delay", "seconds": 1}))
                .collect::<Vec<_>>()
        );
        assert_eq!(paths(&problems(value).await), ["/steps"]);
    }

    #[tokio::test]
    async fn step_limits_are_enforced() {
        let value = json!({
            "name": "limits",
            "trigger": {"type": "schedule", "cron": "0 0 31 4 *", "timezone": "Europe/Paris"},
            "steps": [
                {"id": "a", "type": "delay", "seconds": 0},
                {"id": "b", "type": "delay", "seconds": 604801},
                {"id": "c", "type": "http", "method": "TRACE", "url": "ftp://example.com", "timeout_seconds": 31, "headers": {"Bad Header": "x"}},
                {"id": "d", "type": "http", "url": "/relative"},
                {"id": "e", "type": "llm", "prompt": " "},
                {"id": "f", "type": "airtable.list", "base": BASE, "table": "Deals", "max_records": 1001, "fields": ["Name", "Nope"]},
                {"id": "g", "type": "delay", "seconds": 604800},
                {"id": "h", "type": "http", "url": "{{ input.url }}", "method": "GET"}
            ]
        });
        let found = problems(value).await;
        assert_eq!(
            paths(&found),
            [
                "/trigger/cron",
                "/steps/0/seconds",
                "/steps/1/seconds",
                "/steps/2/method",
                "/steps/2/url",
                "/steps/2/headers/Bad Header",
                "/steps/2/timeout_seconds",
                "/steps/3/url",
                "/steps/4/prompt",
                "/steps/5/fields/1",
                "/steps/5/max_records",
            ]
        );
    }

    #[tokio::test]
    async fn oversized_workflows_are_refused_whole() {
        let mut value = good();
        value["description"] = json!("");
        value["steps"][4]["values"]["big"] = json!("x".repeat(MAX_SPEC_BYTES));
        let found = problems(value).await;
        assert_eq!(paths(&found), ["/"]);
        assert!(found[0].message.contains("limit"));
    }

    #[test]
    fn step_ids_follow_the_pattern() {
        assert!(is_step_id("a"));
        assert!(is_step_id("send_mail_2"));
        assert!(is_step_id(&format!("a{}", "b".repeat(63))));
        assert!(!is_step_id(&format!("a{}", "b".repeat(64))));
        assert!(!is_step_id("2fast"));
        assert!(!is_step_id("_x"));
        assert!(!is_step_id("a-b"));
        assert!(!is_step_id(""));
    }
}
