//! A definition parsed into typed states. Every field is checked against the fields this
//! interpreter implements for that state type: anything else (JSONata, Variables, distributed
//! Map, ItemReader, ...) is refused at load with the state and field named, so a machine never
//! runs with a field silently ignored.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::choice::Rule;
use crate::error::DefinitionError;
use crate::intrinsics::Call;
use crate::path::Path;
use crate::template::Template;

/// A state machine (or a Parallel branch, or a Map's item processor).
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachine {
    pub start_at: String,
    pub states: BTreeMap<String, State>,
    /// The machine-level TimeoutSeconds: checked between states (`States.Timeout`).
    pub timeout_seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub name: String,
    pub kind: StateKind,
    /// `None` is `"InputPath": null` (the state sees `{}`).
    pub input_path: Option<Path>,
    pub output_path: Option<Path>,
    /// `None` for Choice, Succeed and Fail, which do not carry Next/End.
    pub transition: Option<Transition>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    Next(String),
    End,
}

/// Where a result goes: `Discard` is `"ResultPath": null` (the output is the input).
#[derive(Debug, Clone, PartialEq)]
pub enum ResultPath {
    Discard,
    At(Path),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: f64,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<f64>,
    pub full_jitter: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: String,
    pub result_path: ResultPath,
}

/// The fields Task, Parallel and Map share: the result's way into the output, and recovery.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultHandling {
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Seconds {
    Fixed(f64),
    Path(Path),
}

#[derive(Debug, Clone, PartialEq)]
pub enum WaitFor {
    Seconds(Seconds),
    Timestamp(String),
    TimestampPath(Path),
}

#[derive(Debug, Clone, PartialEq)]
pub enum StateKind {
    Pass {
        parameters: Option<Template>,
        result: Option<Value>,
        result_path: ResultPath,
    },
    Task {
        resource: String,
        /// A `.waitForTaskToken` resource (only with [`ParseOptions::allow_callback_tasks`]):
        /// the state gets a `$$.Task.Token` and the invoker's answer is the token's outcome.
        callback: bool,
        timeout: Option<Seconds>,
        handling: ResultHandling,
    },
    Choice {
        choices: Vec<(Rule, String)>,
        default: Option<String>,
    },
    Wait(WaitFor),
    Succeed,
    Fail {
        error: Option<FailText>,
        cause: Option<FailText>,
    },
    Parallel {
        branches: Vec<StateMachine>,
        handling: ResultHandling,
    },
    Map {
        items_path: Path,
        item_selector: Option<Template>,
        processor: Box<StateMachine>,
        /// 0 is "as many as there are items".
        max_concurrency: u64,
        handling: ResultHandling,
    },
}

/// A Fail state's Error or Cause: the literal field, or its `...Path` form, a reference path or
/// (as AWS allows there) an intrinsic function returning a string.
#[derive(Debug, Clone, PartialEq)]
pub enum FailText {
    Literal(String),
    Path(Path),
    Intrinsic(Call),
}

impl StateKind {
    /// The type's name as AWS spells it in history events (`TaskStateEntered`).
    pub fn type_name(&self) -> &'static str {
        match self {
            StateKind::Pass { .. } => "Pass",
            StateKind::Task { .. } => "Task",
            StateKind::Choice { .. } => "Choice",
            StateKind::Wait(_) => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail { .. } => "Fail",
            StateKind::Parallel { .. } => "Parallel",
            StateKind::Map { .. } => "Map",
        }
    }
}

const IO: &[&str] = &["InputPath", "OutputPath"];
const FLOW: &[&str] = &["Next", "End"];
const RESULT: &[&str] = &[
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Retry",
    "Catch",
];

fn allowed(kind: &str) -> Option<Vec<&'static str>> {
    let mut fields: Vec<&'static str> = vec!["Type", "Comment"];
    match kind {
        "Pass" => {
            fields.extend(
                IO.iter()
                    .chain(FLOW)
                    .chain(&["Result", "ResultPath", "Parameters"]),
            )
        }
        "Task" => fields.extend(IO.iter().chain(FLOW).chain(RESULT).chain(&[
            "Resource",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
        ])),
        "Choice" => fields.extend(IO.iter().chain(&["Choices", "Default"])),
        "Wait" => fields.extend(IO.iter().chain(FLOW).chain(&[
            "Seconds",
            "SecondsPath",
            "Timestamp",
            "TimestampPath",
        ])),
        "Succeed" => fields.extend(IO),
        "Fail" => fields.extend(["Error", "Cause", "ErrorPath", "CausePath"]),
        "Parallel" => fields.extend(IO.iter().chain(FLOW).chain(RESULT).chain(&["Branches"])),
        "Map" => fields.extend(IO.iter().chain(FLOW).chain(RESULT).chain(&[
            "ItemsPath",
            "ItemSelector",
            "Iterator",
            "ItemProcessor",
            "MaxConcurrency",
        ])),
        _ => return None,
    }
    Some(fields)
}

/// What a definition may use beyond what production runs. The default is production's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Accept `.waitForTaskToken` Task resources. Production refuses them (nothing in the
    /// platform sends task tokens back); the differential corpus test allows them because its
    /// scripted stub Tasks are callback Tasks on moto, and its invoker answers them directly.
    pub allow_callback_tasks: bool,
}

impl StateMachine {
    /// Parses and checks a definition (the text of an `.asl.json` file).
    pub fn from_json(text: &str) -> Result<StateMachine, DefinitionError> {
        StateMachine::from_json_with(text, ParseOptions::default())
    }

    pub fn from_json_with(
        text: &str,
        options: ParseOptions,
    ) -> Result<StateMachine, DefinitionError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| DefinitionError::machine(None, format!("not JSON: {e}")))?;
        StateMachine::from_value_with(&value, options)
    }

    pub fn from_value(value: &Value) -> Result<StateMachine, DefinitionError> {
        StateMachine::from_value_with(value, ParseOptions::default())
    }

    pub fn from_value_with(
        value: &Value,
        options: ParseOptions,
    ) -> Result<StateMachine, DefinitionError> {
        let Value::Object(map) = value else {
            return Err(DefinitionError::machine(
                None,
                "a definition must be a JSON object",
            ));
        };
        for key in map.keys() {
            if !matches!(
                key.as_str(),
                "StartAt" | "States" | "Comment" | "Version" | "TimeoutSeconds"
            ) {
                return Err(DefinitionError::machine(
                    Some(key),
                    "is not supported by the local runner",
                ));
            }
        }
        let machine = parse_machine(map, None, options)?;
        Ok(machine)
    }

    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.get(name)
    }
}

fn parse_machine(
    map: &Map<String, Value>,
    owner: Option<&str>,
    options: ParseOptions,
) -> Result<StateMachine, DefinitionError> {
    let err = |field: &str, message: String| match owner {
        Some(state) => DefinitionError::at(state, Some(field), message),
        None => DefinitionError::machine(Some(field), message),
    };
    let start_at = map
        .get("StartAt")
        .and_then(Value::as_str)
        .ok_or_else(|| err("StartAt", "is required (a state name)".into()))?
        .to_string();
    let Some(Value::Object(states_json)) = map.get("States") else {
        return Err(err("States", "is required (an object of states)".into()));
    };
    let timeout_seconds = match map.get("TimeoutSeconds") {
        None => None,
        Some(value) => Some(
            value
                .as_u64()
                .ok_or_else(|| err("TimeoutSeconds", "must be a positive integer".into()))?,
        ),
    };
    let mut states = BTreeMap::new();
    for (name, json) in states_json {
        states.insert(name.clone(), parse_state(name, json, options)?);
    }
    if !states.contains_key(&start_at) {
        return Err(err("StartAt", format!("names no state: '{start_at}'")));
    }
    for state in states.values() {
        for (field, target) in targets(state) {
            if !states.contains_key(target) {
                return Err(DefinitionError::at(
                    &state.name,
                    Some(field),
                    format!("names no state in this scope: '{target}'"),
                ));
            }
        }
    }
    // Step Functions refuses a definition with a state nothing leads to; so do we, so a
    // machine that runs here also deploys.
    let mut reached = std::collections::BTreeSet::from([start_at.as_str()]);
    let mut pending = vec![start_at.as_str()];
    while let Some(name) = pending.pop() {
        if let Some(state) = states.get(name) {
            for (_, target) in targets(state) {
                if reached.insert(target.as_str()) {
                    pending.push(target.as_str());
                }
            }
        }
    }
    if let Some(unreached) = states.keys().find(|name| !reached.contains(name.as_str())) {
        return Err(DefinitionError::at(
            unreached,
            None,
            "is not reachable from StartAt",
        ));
    }
    Ok(StateMachine {
        start_at,
        states,
        timeout_seconds,
    })
}

fn targets(state: &State) -> Vec<(&'static str, &String)> {
    let mut out = Vec::new();
    if let Some(Transition::Next(next)) = &state.transition {
        out.push(("Next", next));
    }
    match &state.kind {
        StateKind::Choice { choices, default } => {
            out.extend(choices.iter().map(|(_, next)| ("Choices.Next", next)));
            if let Some(default) = default {
                out.push(("Default", default));
            }
        }
        StateKind::Task { handling, .. }
        | StateKind::Parallel { handling, .. }
        | StateKind::Map { handling, .. } => {
            out.extend(
                handling
                    .catch
                    .iter()
                    .map(|catcher| ("Catch.Next", &catcher.next)),
            );
        }
        _ => {}
    }
    out
}

struct Fields<'a> {
    state: &'a str,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn err(&self, field: &str, message: impl Into<String>) -> DefinitionError {
        DefinitionError::at(self.state, Some(field), message)
    }

    fn string(&self, field: &str) -> Result<Option<&'a str>, DefinitionError> {
        match self.map.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.err(field, "must be a string")),
        }
    }

    fn path(&self, field: &str) -> Result<Option<Path>, DefinitionError> {
        self.string(field)?
            .map(|text| Path::parse(text).map_err(|e| self.err(field, e)))
            .transpose()
    }

    /// A path that may select several nodes (InputPath, OutputPath, ItemsPath).
    fn query_path(&self, field: &str) -> Result<Option<Path>, DefinitionError> {
        self.string(field)?
            .map(|text| Path::parse_query(text).map_err(|e| self.err(field, e)))
            .transpose()
    }

    /// InputPath/OutputPath: absent is `$`, null is "nothing" (`{}`).
    fn io_path(&self, field: &str) -> Result<Option<Path>, DefinitionError> {
        match self.map.get(field) {
            None => Ok(Some(Path::parse("$").map_err(|e| self.err(field, e))?)),
            Some(Value::Null) => Ok(None),
            Some(_) => self.query_path(field),
        }
    }

    fn result_path(&self) -> Result<ResultPath, DefinitionError> {
        result_path_of(self, self.map.get("ResultPath"), "ResultPath")
    }

    fn template(&self, field: &str) -> Result<Option<Template>, DefinitionError> {
        self.map
            .get(field)
            .map(|value| Template::compile(value).map_err(|e| self.err(field, e)))
            .transpose()
    }

    fn seconds(&self, field: &str, path_field: &str) -> Result<Option<Seconds>, DefinitionError> {
        match (self.map.get(field), self.path(path_field)?) {
            (Some(_), Some(_)) => Err(self.err(field, format!("and {path_field} are exclusive"))),
            (Some(value), None) => match value.as_f64() {
                Some(n) if n >= 0.0 => Ok(Some(Seconds::Fixed(n))),
                _ => Err(self.err(field, "must be a non-negative number")),
            },
            (None, Some(path)) => Ok(Some(Seconds::Path(path))),
            (None, None) => Ok(None),
        }
    }
}

fn result_path_of(
    fields: &Fields,
    value: Option<&Value>,
    field: &str,
) -> Result<ResultPath, DefinitionError> {
    match value {
        None => Ok(ResultPath::At(
            Path::parse("$").map_err(|e| fields.err(field, e))?,
        )),
        Some(Value::Null) => Ok(ResultPath::Discard),
        Some(Value::String(text)) => {
            let path = Path::parse(text).map_err(|e| fields.err(field, e))?;
            if path.root != crate::path::Root::Data {
                return Err(fields.err(field, "must be a path into the state's data ('$...')"));
            }
            Ok(ResultPath::At(path))
        }
        Some(_) => Err(fields.err(field, "must be a path string or null")),
    }
}

fn parse_state(name: &str, json: &Value, options: ParseOptions) -> Result<State, DefinitionError> {
    let Value::Object(map) = json else {
        return Err(DefinitionError::at(name, None, "a state must be an object"));
    };
    let kind_name = map
        .get("Type")
        .and_then(Value::as_str)
        .ok_or_else(|| DefinitionError::at(name, Some("Type"), "is required"))?;
    let allowed = allowed(kind_name).ok_or_else(|| {
        DefinitionError::at(
            name,
            Some("Type"),
            format!("unknown state type '{kind_name}'"),
        )
    })?;
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(DefinitionError::at(
                name,
                Some(key),
                format!("is not supported on a {kind_name} state by the local runner"),
            ));
        }
    }
    let fields = Fields { state: name, map };
    let terminal = matches!(kind_name, "Choice" | "Succeed" | "Fail");
    let transition = if terminal {
        None
    } else {
        match (fields.string("Next")?, map.get("End")) {
            (Some(next), None) => Some(Transition::Next(next.to_string())),
            (None, Some(Value::Bool(true))) => Some(Transition::End),
            _ => return Err(fields.err("Next", "exactly one of Next or \"End\": true is required")),
        }
    };
    let kind = match kind_name {
        "Pass" => StateKind::Pass {
            parameters: fields.template("Parameters")?,
            result: map.get("Result").cloned(),
            result_path: fields.result_path()?,
        },
        "Task" => {
            let resource = fields
                .string("Resource")?
                .ok_or_else(|| fields.err("Resource", "is required"))?
                .to_string();
            let callback = resource.ends_with(".waitForTaskToken");
            if callback && !options.allow_callback_tasks {
                return Err(fields.err(
                    "Resource",
                    "the callback pattern (.waitForTaskToken) is not supported by the local runner",
                ));
            }
            StateKind::Task {
                resource,
                callback,
                timeout: fields.seconds("TimeoutSeconds", "TimeoutSecondsPath")?,
                handling: handling(&fields)?,
            }
        }
        "Choice" => {
            let Some(Value::Array(rules)) = map.get("Choices") else {
                return Err(fields.err("Choices", "is required (a non-empty array)"));
            };
            if rules.is_empty() {
                return Err(fields.err("Choices", "must not be empty"));
            }
            let mut choices = Vec::new();
            for (index, rule) in rules.iter().enumerate() {
                let field = format!("Choices[{index}]");
                let next = rule
                    .get("Next")
                    .and_then(Value::as_str)
                    .ok_or_else(|| fields.err(&field, "needs Next"))?;
                choices.push((
                    Rule::parse(rule, true).map_err(|e| fields.err(&field, e))?,
                    next.to_string(),
                ));
            }
            StateKind::Choice {
                choices,
                default: fields.string("Default")?.map(str::to_string),
            }
        }
        "Wait" => {
            let seconds = fields.seconds("Seconds", "SecondsPath")?;
            let timestamp = fields.string("Timestamp")?;
            let timestamp_path = fields.path("TimestampPath")?;
            let wait = match (seconds, timestamp, timestamp_path) {
                (Some(seconds), None, None) => WaitFor::Seconds(seconds),
                (None, Some(timestamp), None) => {
                    if crate::choice::timestamp(timestamp).is_none() {
                        return Err(fields.err("Timestamp", "must be an RFC 3339 timestamp"));
                    }
                    WaitFor::Timestamp(timestamp.to_string())
                }
                (None, None, Some(path)) => WaitFor::TimestampPath(path),
                _ => {
                    return Err(fields.err(
                        "Seconds",
                        "exactly one of Seconds, SecondsPath, Timestamp, TimestampPath is required",
                    ));
                }
            };
            StateKind::Wait(wait)
        }
        "Succeed" => StateKind::Succeed,
        "Fail" => {
            let operand =
                |field: &str, path_field: &str| -> Result<Option<FailText>, DefinitionError> {
                    match (fields.string(field)?, fields.string(path_field)?) {
                        (Some(_), Some(_)) => {
                            Err(fields.err(field, format!("and {path_field} are exclusive")))
                        }
                        (Some(text), None) => Ok(Some(FailText::Literal(text.to_string()))),
                        (None, Some(text)) if text.starts_with("States.") => {
                            Ok(Some(FailText::Intrinsic(
                                Call::parse(text).map_err(|e| fields.err(path_field, e))?,
                            )))
                        }
                        (None, Some(text)) => Ok(Some(FailText::Path(
                            Path::parse(text).map_err(|e| fields.err(path_field, e))?,
                        ))),
                        (None, None) => Ok(None),
                    }
                };
            StateKind::Fail {
                error: operand("Error", "ErrorPath")?,
                cause: operand("Cause", "CausePath")?,
            }
        }
        "Parallel" => {
            let Some(Value::Array(branches)) = map.get("Branches") else {
                return Err(fields.err("Branches", "is required (an array of state machines)"));
            };
            let branches = branches
                .iter()
                .map(|branch| match branch {
                    Value::Object(branch) => {
                        if let Some(key) = branch
                            .keys()
                            .find(|key| !matches!(key.as_str(), "StartAt" | "States" | "Comment"))
                        {
                            return Err(fields
                                .err("Branches", format!("{key} is not supported in a branch")));
                        }
                        parse_machine(branch, Some(name), options)
                    }
                    _ => Err(fields.err("Branches", "each branch must be an object")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            StateKind::Parallel {
                branches,
                handling: handling(&fields)?,
            }
        }
        "Map" => {
            let (field, processor) = match (map.get("ItemProcessor"), map.get("Iterator")) {
                (Some(_), Some(_)) => {
                    return Err(fields.err("ItemProcessor", "and Iterator are exclusive"));
                }
                (Some(Value::Object(p)), None) => ("ItemProcessor", p),
                (None, Some(Value::Object(p))) => ("Iterator", p),
                _ => return Err(fields.err("ItemProcessor", "is required (or Iterator)")),
            };
            if let Some(config) = processor.get("ProcessorConfig") {
                let mode = config
                    .get("Mode")
                    .and_then(Value::as_str)
                    .unwrap_or("INLINE");
                if mode != "INLINE" {
                    return Err(fields.err(
                        "ItemProcessor",
                        format!("Mode {mode} is not supported by the local runner (INLINE only)"),
                    ));
                }
            }
            let mut processor = processor.clone();
            processor.remove("ProcessorConfig");
            for key in processor.keys() {
                if !matches!(key.as_str(), "StartAt" | "States" | "Comment") {
                    return Err(fields.err(field, format!("{key} is not supported")));
                }
            }
            if map.contains_key("ItemSelector") && map.contains_key("Parameters") {
                return Err(fields.err("ItemSelector", "and Parameters are exclusive"));
            }
            let max_concurrency = match map.get("MaxConcurrency") {
                None => 0,
                Some(value) => value.as_u64().ok_or_else(|| {
                    fields.err("MaxConcurrency", "must be a non-negative integer")
                })?,
            };
            let mut handling = handling(&fields)?;
            // On a Map, Parameters is the old name of ItemSelector: it shapes each item.
            let item_selector = match fields.template("ItemSelector")? {
                Some(selector) => Some(selector),
                None => handling.parameters.take(),
            };
            StateKind::Map {
                items_path: fields.query_path("ItemsPath")?.map_or_else(
                    || Path::parse("$").map_err(|e| fields.err("ItemsPath", e)),
                    Ok,
                )?,
                item_selector,
                processor: Box::new(parse_machine(&processor, Some(name), options)?),
                max_concurrency,
                handling,
            }
        }
        other => return Err(fields.err("Type", format!("unknown state type '{other}'"))),
    };
    Ok(State {
        name: name.to_string(),
        kind,
        input_path: fields.io_path("InputPath")?,
        output_path: fields.io_path("OutputPath")?,
        transition,
    })
}

fn error_equals(
    fields: &Fields,
    value: &Map<String, Value>,
    field: &str,
) -> Result<Vec<String>, DefinitionError> {
    let names: Vec<String> = match value.get("ErrorEquals") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| fields.err(field, "ErrorEquals must hold strings"))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(fields.err(field, "ErrorEquals is required (a non-empty array)")),
    };
    if names.iter().any(|n| n == crate::error::names::ALL) && names.len() > 1 {
        return Err(fields.err(field, "States.ALL must appear alone in ErrorEquals"));
    }
    Ok(names)
}

fn handling(fields: &Fields) -> Result<ResultHandling, DefinitionError> {
    let mut retry = Vec::new();
    if let Some(value) = fields.map.get("Retry") {
        let Value::Array(items) = value else {
            return Err(fields.err("Retry", "must be an array"));
        };
        for (index, item) in items.iter().enumerate() {
            let field = format!("Retry[{index}]");
            let Value::Object(map) = item else {
                return Err(fields.err(&field, "must be an object"));
            };
            for key in map.keys() {
                if !matches!(
                    key.as_str(),
                    "ErrorEquals"
                        | "IntervalSeconds"
                        | "MaxAttempts"
                        | "BackoffRate"
                        | "MaxDelaySeconds"
                        | "JitterStrategy"
                        | "Comment"
                ) {
                    return Err(fields.err(&field, format!("{key} is not supported")));
                }
            }
            let number = |key: &str, default: f64| -> Result<f64, DefinitionError> {
                match map.get(key) {
                    None => Ok(default),
                    Some(value) => value
                        .as_f64()
                        .ok_or_else(|| fields.err(&field, format!("{key} must be a number"))),
                }
            };
            let interval_seconds = number("IntervalSeconds", 1.0)?;
            if !(interval_seconds >= 0.0 && interval_seconds.is_finite()) {
                return Err(fields.err(&field, "IntervalSeconds must be a non-negative number"));
            }
            let max_attempts = number("MaxAttempts", 3.0)?;
            if max_attempts < 0.0 || max_attempts.fract() != 0.0 {
                return Err(fields.err(&field, "MaxAttempts must be a non-negative integer"));
            }
            let backoff_rate = number("BackoffRate", 2.0)?;
            if backoff_rate < 1.0 {
                return Err(fields.err(&field, "BackoffRate must be at least 1.0"));
            }
            let full_jitter = match map.get("JitterStrategy").and_then(Value::as_str) {
                None | Some("NONE") => false,
                Some("FULL") => true,
                Some(other) => {
                    return Err(fields.err(
                        &field,
                        format!("JitterStrategy '{other}' is not FULL or NONE"),
                    ));
                }
            };
            retry.push(Retrier {
                error_equals: error_equals(fields, map, &field)?,
                interval_seconds,
                max_attempts: max_attempts as u32,
                backoff_rate,
                max_delay_seconds: map.get("MaxDelaySeconds").and_then(Value::as_f64),
                full_jitter,
            });
        }
    }
    let mut catch = Vec::new();
    if let Some(value) = fields.map.get("Catch") {
        let Value::Array(items) = value else {
            return Err(fields.err("Catch", "must be an array"));
        };
        for (index, item) in items.iter().enumerate() {
            let field = format!("Catch[{index}]");
            let Value::Object(map) = item else {
                return Err(fields.err(&field, "must be an object"));
            };
            for key in map.keys() {
                if !matches!(
                    key.as_str(),
                    "ErrorEquals" | "Next" | "ResultPath" | "Comment"
                ) {
                    return Err(fields.err(&field, format!("{key} is not supported")));
                }
            }
            catch.push(Catcher {
                error_equals: error_equals(fields, map, &field)?,
                next: map
                    .get("Next")
                    .and_then(Value::as_str)
                    .ok_or_else(|| fields.err(&field, "Next is required"))?
                    .to_string(),
                result_path: result_path_of(
                    fields,
                    map.get("ResultPath"),
                    &format!("{field}.ResultPath"),
                )?,
            });
        }
    }
    Ok(ResultHandling {
        parameters: fields.template("Parameters")?,
        result_selector: fields.template("ResultSelector")?,
        result_path: fields.result_path()?,
        retry,
        catch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(value: Value) -> Result<StateMachine, DefinitionError> {
        StateMachine::from_value(&value)
    }

    #[test]
    fn loads_every_state_type() {
        let machine = load(json!({
            "StartAt": "P",
            "States": {
                "P": {"Type": "Pass", "Result": 1, "ResultPath": "$.r", "Next": "T"},
                "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Retry": [{"ErrorEquals": ["States.ALL"]}],
                      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F", "ResultPath": "$.error"}], "Next": "C"},
                "C": {"Type": "Choice", "Choices": [{"Variable": "$.r", "NumericEquals": 1, "Next": "W"}], "Default": "F"},
                "W": {"Type": "Wait", "Seconds": 1, "Next": "Par"},
                "Par": {"Type": "Parallel", "Branches": [{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}], "Next": "M"},
                "M": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}, "Next": "S"},
                "S": {"Type": "Succeed"},
                "F": {"Type": "Fail", "Error": "E", "CausePath": "$.cause"}
            }
        }))
        .unwrap();
        assert_eq!(machine.states.len(), 8);
        assert_eq!(machine.states["T"].kind.type_name(), "Task");
    }

    #[test]
    fn refusals_name_the_state_and_field() {
        let err = load(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {}, "End": true}}}),
        )
        .unwrap_err();
        assert_eq!(
            (err.state.as_deref(), err.field.as_deref()),
            (Some("A"), Some("Assign"))
        );
        let err =
            load(json!({"StartAt": "A", "QueryLanguage": "JSONata", "States": {}})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("QueryLanguage"));
        let err =
            load(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}))
                .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("Next"));
        let err = load(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "$.a[?(@.b =~ /x/)]", "End": true}}})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("InputPath"));
        let err = load(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "ResultPath": "$.a[*]", "End": true}}})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("ResultPath"));
        let err = load(json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.a[0:1]", "IsPresent": true, "Next": "B"}]}, "B": {"Type": "Succeed"}}})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("Choices[0]"));
        let err = load(json!({"StartAt": "A", "States": {"A": {"Type": "Map", "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "B", "States": {"B": {"Type": "Succeed"}}}, "End": true}}})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("ItemProcessor"));
        let err = load(json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "Retry": [{"ErrorEquals": ["States.ALL", "X"]}], "End": true}}})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("Retry[0]"));
        assert!(err.to_string().contains("state 'A'"));
        let err = load(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"x.$": "$.y[?(@.a && @.b)]"}, "End": true}}})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("Parameters"));
        let err = load(json!({"StartAt": "A", "States": {"A": {"Type": "Parallel", "Branches": [{"StartAt": "B", "QueryLanguage": "JSONata", "States": {"B": {"Type": "Succeed"}}}], "End": true}}})).unwrap_err();
        assert_eq!(
            (err.state.as_deref(), err.field.as_deref()),
            (Some("A"), Some("Branches"))
        );
        let err = load(json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "Orphan": {"Type": "Succeed"}}})).unwrap_err();
        assert_eq!(err.state.as_deref(), Some("Orphan"));
        let err = load(json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "End": true}}})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("Resource"));
    }
}
