//! connect-base's actions: not in this build yet (its machine is not either, so no saga of this
//! type can start). Its module is here so the dispatch has a place for it.

use triggers::TaskError;

use super::{Action, Done, StepContext, not_an_action_of};

pub async fn run(context: &StepContext<'_>, action: Action) -> Result<Done, TaskError> {
    Err(not_an_action_of(context, action))
}
