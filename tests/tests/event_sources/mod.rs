//! The template's non-HTTP event sources, read as `triggers::sources` declares them: SQS events
//! (which queue), Schedule events (which expression) and the functions that state machines'
//! Task states invoke through `arn:aws:states:::lambda:invoke`. The comparison is a function so
//! that a synthetic template with a mismatch can show it fails.

use std::collections::BTreeSet;
use std::path::Path;

use ports::QueueName;
use serde_yaml::Value;
use triggers::sources::EventSourceBinding;

/// (function binary, event source as `triggers::sources::EventSource` displays it).
pub type Wiring = BTreeSet<(String, String)>;

/// The code's table in the same shape as [`template_event_sources`].
pub fn code_event_sources(table: &[EventSourceBinding]) -> Wiring {
    table
        .iter()
        .map(|binding| (binding.function.to_string(), binding.source.to_string()))
        .collect()
}

/// Ok when the template wires exactly the code's table, else every difference and every event
/// the code could not run as wired (one per line).
pub fn compare_event_sources(
    template: &Value,
    infra_dir: &Path,
    table: &[EventSourceBinding],
) -> Result<(), String> {
    let mut problems = Vec::new();
    let in_template = template_event_sources(template, infra_dir, &mut problems);
    let in_code = code_event_sources(table);
    for only in in_template.difference(&in_code) {
        problems.push(format!("only in template.yaml: {} <- {}", only.0, only.1));
    }
    for only in in_code.difference(&in_template) {
        problems.push(format!("only in the code: {} <- {}", only.0, only.1));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Every non-HTTP event source in the template; what cannot be read goes to `problems`.
pub fn template_event_sources(
    template: &Value,
    infra_dir: &Path,
    problems: &mut Vec<String>,
) -> Wiring {
    let mut wiring = Wiring::new();
    let Some(resources) = template["Resources"].as_mapping() else {
        problems.push("the template has no Resources".into());
        return wiring;
    };
    for (id, resource) in resources {
        let id = id.as_str().unwrap_or_default();
        match resource["Type"].as_str() {
            Some("AWS::Serverless::Function") => {
                function_events(template, id, resource, &mut wiring, problems);
            }
            Some("AWS::Serverless::StateMachine") => {
                machine_targets(template, infra_dir, id, resource, &mut wiring, problems);
            }
            Some("AWS::StepFunctions::StateMachine") => problems.push(format!(
                "{id}: declare state machines as AWS::Serverless::StateMachine with a DefinitionUri"
            )),
            _ => {}
        }
    }
    wiring
}

fn binary_of(resource: &Value) -> Option<&str> {
    resource["Metadata"]["BuildProperties"]["Binary"].as_str()
}

fn function_events(
    template: &Value,
    id: &str,
    function: &Value,
    wiring: &mut Wiring,
    problems: &mut Vec<String>,
) {
    let Some(events) = function["Properties"]["Events"].as_mapping() else {
        return;
    };
    let Some(binary) = binary_of(function) else {
        problems.push(format!("{id} names no Binary in Metadata.BuildProperties"));
        return;
    };
    for (name, event) in events {
        let name = name.as_str().unwrap_or_default();
        let properties = &event["Properties"];
        match event["Type"].as_str() {
            Some("SQS") => {
                let reports_items = properties["FunctionResponseTypes"]
                    .as_sequence()
                    .is_some_and(|types| types.iter().any(|t| t == "ReportBatchItemFailures"));
                if !reports_items {
                    problems.push(format!(
                        "{id}.{name}: an SQS event needs FunctionResponseTypes: \
                         [ReportBatchItemFailures], or one failed message retries the batch"
                    ));
                }
                match queue_of(template, &properties["Queue"]) {
                    Some(queue) => {
                        wiring.insert((binary.to_string(), format!("queue {queue}")));
                    }
                    None => problems.push(format!(
                        "{id}.{name}: Queue is not the Arn of a queue the code names \
                         (a QUEUE_*_URL variable in Globals)"
                    )),
                }
            }
            Some("Schedule") => {
                for replaced in ["Input", "InputPath", "InputTransformer"] {
                    if !properties[replaced].is_null() {
                        problems.push(format!(
                            "{id}.{name}: {replaced} replaces the Scheduled Event the function reads"
                        ));
                    }
                }
                match properties["Schedule"].as_str() {
                    Some(expression) => {
                        wiring.insert((binary.to_string(), format!("schedule {expression}")));
                    }
                    None => problems.push(format!("{id}.{name}: no Schedule expression")),
                }
            }
            Some("ScheduleV2") => problems.push(format!(
                "{id}.{name}: EventBridge Scheduler (ScheduleV2) sends no Scheduled Event; \
                 use Type: Schedule"
            )),
            _ => {}
        }
    }
}

/// The queue a `Fn::GetAtt: [Queue, Arn]` names, found through the `QUEUE_*_URL` variable in
/// `Globals` that the code reads the queue's URL from.
fn queue_of(template: &Value, arn: &Value) -> Option<QueueName> {
    let resource = get_att_arn(arn)?;
    let variables = template["Globals"]["Function"]["Environment"]["Variables"].as_mapping()?;
    let (variable, _) = variables
        .iter()
        .find(|(_, value)| value["Ref"].as_str() == Some(resource.as_str()))?;
    let variable = variable.as_str()?;
    QueueName::ALL
        .into_iter()
        .find(|queue| queue_variable(*queue) == variable)
}

/// `QUEUE_RUNS_URL` for `runs`, `QUEUE_EVENTS_DLQ_URL` for `events-dlq.fifo`: the variables
/// `backend`'s configuration reads.
pub fn queue_variable(queue: QueueName) -> String {
    let name = queue.logical_name().trim_end_matches(".fifo");
    format!("QUEUE_{}_URL", name.to_uppercase().replace('-', "_"))
}

/// The resource id of `Fn::GetAtt: [Id, Arn]` or `Fn::GetAtt: Id.Arn`.
fn get_att_arn(value: &Value) -> Option<String> {
    match &value["Fn::GetAtt"] {
        Value::Sequence(parts) if parts.get(1).and_then(Value::as_str) == Some("Arn") => {
            parts.first()?.as_str().map(str::to_string)
        }
        Value::String(dotted) => dotted.strip_suffix(".Arn").map(str::to_string),
        _ => None,
    }
}

/// The functions a state machine's Task states invoke, as `(binary, "state machine <name>")`,
/// `<name>` being the ASL file's name without `.asl.json`.
fn machine_targets(
    template: &Value,
    infra_dir: &Path,
    id: &str,
    machine: &Value,
    wiring: &mut Wiring,
    problems: &mut Vec<String>,
) {
    let properties = &machine["Properties"];
    let Some(uri) = properties["DefinitionUri"].as_str() else {
        problems.push(format!(
            "{id}: a state machine's definition is an ASL file (DefinitionUri)"
        ));
        return;
    };
    let Some(name) = Path::new(uri)
        .file_name()
        .and_then(|file| file.to_str())
        .and_then(|file| file.strip_suffix(".asl.json"))
    else {
        problems.push(format!("{id}: {uri} is not a .asl.json file"));
        return;
    };
    let definition: serde_json::Value = match std::fs::read_to_string(infra_dir.join(uri))
        .map_err(|err| err.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|err| err.to_string()))
    {
        Ok(definition) => definition,
        Err(err) => {
            problems.push(format!("{id}: cannot read {uri}: {err}"));
            return;
        }
    };
    let mut tasks = Vec::new();
    collect_tasks(&definition["States"], &mut tasks);
    for (state, task) in tasks {
        let resource = task["Resource"].as_str().unwrap_or_default();
        let target = if resource.starts_with("arn:aws:states:::lambda:invoke") {
            task["Parameters"]["FunctionName"].as_str()
        } else if resource.starts_with("${") {
            problems.push(format!(
                "{id}: Task {state} invokes {resource} directly; use arn:aws:states:::lambda:invoke"
            ));
            continue;
        } else {
            continue; // another service integration
        };
        match target.and_then(|target| substituted_function(template, properties, target)) {
            Some(binary) => {
                wiring.insert((binary, format!("state machine {name}")));
            }
            None => problems.push(format!(
                "{id}: Task {state}'s FunctionName {target:?} is not a ${{Variable}} that \
                 DefinitionSubstitutions maps to a function of the template"
            )),
        }
    }
}

/// Every Task state, with Parallel branches and Map iterators included.
fn collect_tasks<'a>(
    states: &'a serde_json::Value,
    tasks: &mut Vec<(&'a str, &'a serde_json::Value)>,
) {
    let Some(states) = states.as_object() else {
        return;
    };
    for (name, state) in states {
        match state["Type"].as_str() {
            Some("Task") => tasks.push((name, state)),
            Some("Parallel") => {
                for branch in state["Branches"].as_array().into_iter().flatten() {
                    collect_tasks(&branch["States"], tasks);
                }
            }
            Some("Map") => {
                collect_tasks(&state["ItemProcessor"]["States"], tasks);
                collect_tasks(&state["Iterator"]["States"], tasks);
            }
            _ => {}
        }
    }
}

/// The binary of the function that `${Variable}` (with an optional `:qualifier`) stands for.
fn substituted_function(template: &Value, machine: &Value, target: &str) -> Option<String> {
    let variable = target.strip_prefix("${")?.split_once('}')?.0;
    let value = &machine["DefinitionSubstitutions"][variable];
    let function_id = get_att_arn(value).or_else(|| value["Ref"].as_str().map(str::to_string))?;
    let function = &template["Resources"][function_id.as_str()];
    if function["Type"].as_str() != Some("AWS::Serverless::Function") {
        return None;
    }
    binary_of(function).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use triggers::sources::{EventSource, EventSourceBinding};

    use super::*;

    /// Two triggers of each kind the table knows, the saga's Task inside a Parallel branch.
    const TEMPLATE: &str = r#"
Globals:
  Function:
    Environment:
      Variables:
        QUEUE_RUNS_URL: {Ref: RunsQueue}
        QUEUE_EVENTS_URL: {Ref: EventsQueue}
Resources:
  WorkerRunsFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: worker-runs}}
    Properties:
      Events:
        Runs:
          Type: SQS
          Properties:
            Queue: {"Fn::GetAtt": [RunsQueue, Arn]}
            FunctionResponseTypes: [ReportBatchItemFailures]
  SchedulerFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: scheduler}}
    Properties:
      Events:
        EveryMinute:
          Type: Schedule
          Properties: {Schedule: rate(1 minute)}
  SagaStepFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: saga-step}}
    Properties: {}
  TransactionStateMachine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: statemachines/transaction.asl.json
      DefinitionSubstitutions:
        SagaStepArn: {"Fn::GetAtt": [SagaStepFunction, Arn]}
  RunsQueue:
    Type: AWS::SQS::Queue
  EventsQueue:
    Type: AWS::SQS::Queue
"#;

    const TRANSACTION_ASL: &str = r#"{
      "StartAt": "Both",
      "States": {
        "Both": {
          "Type": "Parallel",
          "Branches": [{
            "StartAt": "Step",
            "States": {
              "Step": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "${SagaStepArn}", "Payload.$": "$"},
                "End": true
              }
            }
          }],
          "End": true
        }
      }
    }"#;

    const WIRED: [EventSourceBinding; 3] = [
        EventSourceBinding {
            function: "worker-runs",
            source: EventSource::Queue(QueueName::Runs),
        },
        EventSourceBinding {
            function: "scheduler",
            source: EventSource::Schedule("rate(1 minute)"),
        },
        EventSourceBinding {
            function: "saga-step",
            source: EventSource::StateMachine("transaction"),
        },
    ];

    fn infra() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::create_dir(dir.path().join("statemachines")).expect("mkdir");
        std::fs::write(
            dir.path().join("statemachines/transaction.asl.json"),
            TRANSACTION_ASL,
        )
        .expect("write the ASL file");
        dir
    }

    fn yaml(text: &str) -> Value {
        serde_yaml::from_str(text).expect("YAML")
    }

    #[test]
    fn a_template_wired_like_the_table_passes() {
        let dir = infra();
        compare_event_sources(&yaml(TEMPLATE), dir.path(), &WIRED).expect("the same wiring");
    }

    #[test]
    fn a_function_on_another_queue_is_a_mismatch_both_ways() {
        let dir = infra();
        let mut table = WIRED;
        table[0].source = EventSource::Queue(QueueName::Events);
        let problems =
            compare_event_sources(&yaml(TEMPLATE), dir.path(), &table).expect_err("mismatch");
        assert!(
            problems.contains("only in template.yaml: worker-runs <- queue runs"),
            "{problems}"
        );
        assert!(
            problems.contains("only in the code: worker-runs <- queue events.fifo"),
            "{problems}"
        );
    }

    #[test]
    fn a_missing_state_machine_target_or_schedule_is_a_mismatch() {
        let dir = infra();
        let problems = compare_event_sources(&yaml(TEMPLATE), dir.path(), &WIRED[..1])
            .expect_err("the table lacks two");
        assert!(
            problems.contains("saga-step <- state machine transaction"),
            "{problems}"
        );
        assert!(
            problems.contains("scheduler <- schedule rate(1 minute)"),
            "{problems}"
        );
    }

    #[test]
    fn an_sqs_event_without_partial_batch_responses_is_refused() {
        let dir = infra();
        let template = TEMPLATE.replace("FunctionResponseTypes: [ReportBatchItemFailures]", "");
        let problems = compare_event_sources(&yaml(&template), dir.path(), &WIRED)
            .expect_err("no partial batch responses");
        assert!(problems.contains("ReportBatchItemFailures"), "{problems}");
    }

    #[test]
    fn queue_variables_follow_the_configuration_names() {
        assert_eq!(queue_variable(QueueName::Runs), "QUEUE_RUNS_URL");
        assert_eq!(queue_variable(QueueName::EventsDlq), "QUEUE_EVENTS_DLQ_URL");
    }
}
