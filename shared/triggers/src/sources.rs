//! Which queue, schedule or state machine invokes which function: the non-HTTP half of the
//! deployment's wiring, declared once in code. `tests/tests/template.rs` holds
//! `infra/template.yaml` to it (SQS and Schedule events, state-machine `lambda:invoke`
//! targets), as it holds the template's HTTP routes to `http_api::routes::route_table`, and the
//! dev server starts its in-process workers from it.

use std::collections::BTreeSet;
use std::fmt;

use ports::QueueName;

/// What invokes a function, besides HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventSource {
    /// An SQS event source mapping on this queue (partial batch responses on).
    Queue(QueueName),
    /// An EventBridge rule with this schedule expression, e.g. `rate(1 minute)`.
    Schedule(&'static str),
    /// Task states of this state machine (`statemachines/<name>.asl.json`, the name the
    /// state-machine port starts it by) invoke the function through `lambda:invoke`.
    StateMachine(&'static str),
}

impl fmt::Display for EventSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventSource::Queue(queue) => write!(f, "queue {queue}"),
            EventSource::Schedule(expression) => write!(f, "schedule {expression}"),
            EventSource::StateMachine(machine) => write!(f, "state machine {machine}"),
        }
    }
}

/// One function's event source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventSourceBinding {
    /// The function's binary (its crate under `functions/`).
    pub function: &'static str,
    pub source: EventSource,
}

/// Every non-HTTP event source of the deployment.
pub const EVENT_SOURCES: &[EventSourceBinding] = &[
    EventSourceBinding {
        function: "worker-runs",
        source: EventSource::Queue(QueueName::Runs),
    },
    EventSourceBinding {
        function: "worker-events",
        source: EventSource::Queue(QueueName::Events),
    },
    EventSourceBinding {
        function: "scheduler",
        source: EventSource::Schedule("rate(1 minute)"),
    },
    // Every Task of the three saga machines (`sagas::machines::MACHINES`) is a saga step.
    EventSourceBinding {
        function: "saga-step",
        source: EventSource::StateMachine("transaction"),
    },
    EventSourceBinding {
        function: "saga-step",
        source: EventSource::StateMachine("table-sync"),
    },
    EventSourceBinding {
        function: "saga-step",
        source: EventSource::StateMachine("connect-base"),
    },
];

/// Checks a table for what the template could not express: a binding listed twice, a consumer on
/// a dead-letter queue (it would defeat the DLQ, which holds messages for a person to look at),
/// a schedule that is not an EventBridge `rate(...)` or `cron(...)` expression.
pub fn check(table: &[EventSourceBinding]) -> Result<(), String> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for binding in table {
        if !seen.insert(binding) {
            problems.push(format!(
                "{} is listed twice for {}",
                binding.source, binding.function
            ));
        }
        match binding.source {
            EventSource::Queue(queue) if queue.dead_letter_queue().is_none() => problems.push(
                format!("{} consumes {queue}, a dead-letter queue", binding.function),
            ),
            EventSource::Schedule(expression) if !is_schedule_expression(expression) => problems
                .push(format!(
                    "{}: {expression:?} is not rate(...) or cron(...)",
                    binding.function
                )),
            _ => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn is_schedule_expression(expression: &str) -> bool {
    ["rate(", "cron("]
        .iter()
        .any(|start| expression.starts_with(start) && expression.ends_with(')'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declared_table_is_consistent() {
        check(EVENT_SOURCES).expect("EVENT_SOURCES");
    }

    #[test]
    fn duplicates_dead_letter_consumers_and_bad_schedules_are_refused() {
        let good = [
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
        check(&good).expect("a consistent table");
        let bad = [
            good[0],
            good[0],
            EventSourceBinding {
                function: "worker-runs",
                source: EventSource::Queue(QueueName::RunsDlq),
            },
            EventSourceBinding {
                function: "scheduler",
                source: EventSource::Schedule("every minute"),
            },
        ];
        let problems = check(&bad).expect_err("three problems");
        assert_eq!(problems.lines().count(), 3, "{problems}");
    }
}
