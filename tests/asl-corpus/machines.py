"""Turns the project's state machines into corpus cases with scripted Tasks, so moto's engine and
our runner run the real machines (their Retry, Catch and compensation paths) side by side.

For every machine (`statemachines/<name>.asl.json`, and the fixture `machines/sample-saga.asl.json`
that stands for their shape) it writes `cases/machine-<name>-<scenario>/`:

- `definition.asl.json`: the machine with `${SagaStepFunctionArn}` substituted and every
  `arn:aws:states:::lambda:invoke` Task rewritten into the callback form of README.md (same
  state name, Retry, Catch, ResultSelector, ResultPath, OutputPath; `Payload` = the original
  Payload plus `token`, `state` and `input`), so the recorder can script each Task's answer;
- `input.json`: the machine's input from its spec (`machines/<name>.json`);
- `tasks.json`: `{"Return": {"Payload": <answer>}}` for every Task (the spec's `returns`, a list
  for successive calls, else a Payload built from the paths the Task's ResultSelector reads),
  and for a fault a `Throw` from the faulted call on (on moto a retried callback Task replays
  it, quirk 5, and so does our stub: Retry is exhausted, then the Catch runs);
- `scenario.json`: what the differential test checks besides the moto comparison: the Task
  calls of the happy path (`forward`), the faulted state and call, the expected final status
  and error (the spec's `fault_errors`, else `compensated_error`), and, when the spec lists
  them (per state, or `*`), the compensation Tasks that must run after the fault, in order.

Scenarios: `ok` (every Task answers), `fault-<k>-<state>` for the k-th Task call of the happy
path (a non-retryable `Platform.Failed`; a state in a loop gets one per call),
`throttled-1-<state>` (the first Task throttled on every attempt: Retry exhausted, then Catch;
only where moto's real-time retries take at most 20 s), and the spec's own `scenarios`
(`throws` per state with `call`, `Error`, `Cause`; `returns` overrides; `expect`;
`compensations`). The happy path comes from running the `ok` case on moto. Then every machine
case is recorded with run_moto.py.

Usage (from the repository root):
    .venv/tools/bin/python tests/asl-corpus/machines.py           # write and record
    .venv/tools/bin/python tests/asl-corpus/machines.py --check   # no moto: exit 1 if the
        committed cases are not what the machines and specs give (run_moto.py --check compares
        the recordings)
"""

import copy
import json
import shutil
import sys
from pathlib import Path

import run_moto

CORPUS = Path(__file__).resolve().parent
REPO = CORPUS.parent.parent
SPECS = CORPUS / "machines"
SUBSTITUTION = "${SagaStepFunctionArn}"
SAGA_STEP_ARN = "arn:aws:lambda:us-east-1:123456789012:function:saga-step"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
CALLBACK = LAMBDA_INVOKE + ".waitForTaskToken"
STUB_KEYS = {"token.$": "$$.Task.Token", "state.$": "$$.State.Name", "input.$": "$"}
DEFAULT_INPUT = {"tenant": "ten_corpus", "saga": "sag_corpus"}
FAULT = {"Error": "Platform.Failed", "Cause": "injected fault"}
THROTTLED = {"Error": "Platform.Throttled", "Cause": "injected throttling"}


def sources() -> dict[str, Path]:
    """Machine name → definition file: the project's machines and the fixture."""
    found = {path.name.removesuffix(".asl.json"): path for path in SPECS.glob("*.asl.json")}
    for path in sorted((REPO / "statemachines").glob("*.asl.json")):
        found[path.name.removesuffix(".asl.json")] = path
    return dict(sorted(found.items()))


def substitute(value):
    if isinstance(value, str):
        return value.replace(SUBSTITUTION, SAGA_STEP_ARN)
    if isinstance(value, list):
        return [substitute(item) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item) for key, item in value.items()}
    return value


def rewrite_task(name: str, state: dict) -> dict:
    """The callback form of a plain lambda:invoke Task: only Resource and Payload change."""
    if state.get("Resource") != LAMBDA_INVOKE:
        raise ValueError(f"state {name}: only {LAMBDA_INVOKE} Tasks can be stubbed")
    parameters = dict(state.get("Parameters") or {})
    if "Payload.$" in parameters:
        # A Payload taken whole from a path: the stub keys go next to it, under `payload`.
        payload = {"payload.$": parameters.pop("Payload.$")}
    else:
        payload = dict(parameters.get("Payload") or {})
        if not isinstance(payload, dict):
            raise ValueError(f"state {name}: a non-object Payload cannot carry the stub keys")
    clash = {key.removesuffix(".$") for key in payload} & {"token", "state", "input"}
    if clash:
        raise ValueError(f"state {name}: the Payload already has {sorted(clash)}")
    payload.update(STUB_KEYS)
    parameters["Payload"] = payload
    rewritten = dict(state)
    rewritten["Resource"] = CALLBACK
    rewritten["Parameters"] = parameters
    return rewritten


def rewrite_states(states: dict) -> dict:
    out = {}
    for name, state in states.items():
        state = copy.deepcopy(state)
        kind = state.get("Type")
        if kind == "Task":
            state = rewrite_task(name, state)
        elif kind == "Parallel":
            for branch in state["Branches"]:
                branch["States"] = rewrite_states(branch["States"])
        elif kind == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator")
            processor["States"] = rewrite_states(processor["States"])
        out[name] = state
    return out


def task_states(states: dict) -> dict[str, dict]:
    """Every Task state by name, branches and item processors included."""
    found = {}
    for name, state in states.items():
        if state.get("Type") == "Task":
            found[name] = state
        for branch in state.get("Branches", []):
            found.update(task_states(branch["States"]))
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            found.update(task_states(processor["States"]))
    return found


def placeholder_payload(state: dict):
    """A Payload with something at every `$.Payload...` path the ResultSelector reads."""
    payload: dict = {}
    for key, path in (state.get("ResultSelector") or {}).items():
        if not key.endswith(".$") or not isinstance(path, str):
            continue
        steps = path.removeprefix("$.Payload").strip(".").split(".") if path.startswith(
            "$.Payload"
        ) else []
        if not steps or steps == [""]:
            continue
        node = payload
        for step in steps[:-1]:
            node = node.setdefault(step, {})
        node.setdefault(steps[-1], steps[-1])
    return payload


def returns_of(spec: dict, tasks: dict[str, dict], overrides: dict | None = None) -> dict:
    """State name → the Payloads its successive calls return (the last one repeats)."""
    returns = dict(spec.get("returns", {}))
    returns.update(overrides or {})
    out = {}
    for name, state in tasks.items():
        answer = returns.get(name, placeholder_payload(state))
        out[name] = answer if isinstance(answer, list) else [answer]
    return out


def script_of(returns: dict, throws: dict | None = None) -> dict:
    """tasks.json: every Task returns its Payloads; a thrown state answers its first
    `call - 1` calls as usual, then throws (on every later call and retry)."""
    script = {name: [{"Return": {"Payload": p}} for p in payloads] for name, payloads in returns.items()}
    for name, thrown in (throws or {}).items():
        call = thrown.get("call", 1)
        before = [script[name][min(n, len(script[name]) - 1)] for n in range(call - 1)]
        error = {"Error": thrown["Error"], "Cause": thrown.get("Cause", "injected fault")}
        script[name] = before + [{"Throw": error}]
    return script


def retry_seconds(state: dict, error: str) -> float:
    """How long moto waits before a Task that throws `error` on every attempt is caught."""
    for retrier in state.get("Retry", []):
        names = retrier["ErrorEquals"]
        if error in names or "States.ALL" in names or "States.TaskFailed" in names:
            interval = retrier.get("IntervalSeconds", 1)
            rate = retrier.get("BackoffRate", 2.0)
            cap = retrier.get("MaxDelaySeconds", float("inf"))
            return sum(min(interval * rate**n, cap) for n in range(retrier.get("MaxAttempts", 3)))
    return 0.0


def write_case(name: str, definition: dict, execution_input, script: dict, scenario: dict) -> None:
    case = CORPUS / "cases" / name
    case.mkdir(parents=True, exist_ok=True)
    for file, value in (
        ("definition.asl.json", definition),
        ("input.json", execution_input),
        ("tasks.json", script),
        ("scenario.json", scenario),
    ):
        (case / file).write_text(json.dumps(value, indent=2) + "\n")


def happy_path(case: str) -> list[str]:
    """The Task calls the `ok` case makes on moto, in order (a state in a loop repeats)."""
    recorded = json.loads((CORPUS / "cases" / case / "expected.moto.json").read_text())
    outcome = recorded["input"]
    if outcome.get("status") != "SUCCEEDED":
        raise RuntimeError(f"{case}: the happy path does not succeed on moto: {outcome}")
    return outcome["task_states"]


def generate(selected_machines: dict[str, Path], recorded_order: bool = False) -> list[str]:
    """Writes every machine case; returns their names. The happy path's Task calls come from
    recording the `ok` case on moto, or with `recorded_order` from its committed scenario.json
    (what --check compares against, without moto)."""
    written = []
    for machine, path in selected_machines.items():
        spec_path = SPECS / f"{machine}.json"
        spec = json.loads(spec_path.read_text()) if spec_path.exists() else {}
        source = substitute(json.loads(path.read_text()))
        definition = dict(source)
        definition["States"] = rewrite_states(source["States"])
        tasks = task_states(source["States"])
        execution_input = spec.get("input", DEFAULT_INPUT)
        returns = returns_of(spec, tasks)
        script = script_of(returns)
        prefix = f"machine-{machine}"
        ok = f"{prefix}-ok"
        if recorded_order:
            committed = CORPUS / "cases" / ok / "scenario.json"
            forward = json.loads(committed.read_text())["forward"] if committed.exists() else []
        else:
            for stale in (CORPUS / "cases").glob(f"{prefix}-*"):
                shutil.rmtree(stale)
            write_case(ok, definition, execution_input, script, {"expect": {"status": "SUCCEEDED"}})
            if run_moto.main([ok], check=False) != 0:
                raise RuntimeError(f"{ok}: moto could not record the happy path")
            forward = happy_path(ok)
        write_case(ok, definition, execution_input, script, {"expect": {"status": "SUCCEEDED"}, "forward": forward})
        written.append(ok)
        compensated = spec.get("compensated_error", "Saga.Compensated")
        compensations = spec.get("compensations", {})
        scenarios = []
        for step, state in enumerate(forward, start=1):
            call = forward[: step - 1].count(state) + 1
            faults = [("fault", FAULT)]
            # Throttling on every attempt exhausts Retry before the Catch: recorded where moto
            # waits at most 20 s for it (its retry intervals are real time).
            if step == 1 and retry_seconds(tasks[state], THROTTLED["Error"]) <= 20:
                faults.append(("throttled", THROTTLED))
            for label, thrown in faults:
                scenarios.append((
                    f"{label}-{step}-{slug(state)}",
                    {state: dict(thrown, call=call)},
                    {},
                    {"status": "FAILED", "error": spec.get("fault_errors", {}).get(state, compensated)},
                    compensations.get(state, compensations.get("*")),
                ))
        for label, extra in spec.get("scenarios", {}).items():
            scenarios.append((label, extra["throws"], extra.get("returns", {}), extra["expect"], extra.get("compensations")))
        for label, throws, overrides, expect, expected_compensations in scenarios:
            fault, thrown = next(iter(throws.items()))
            scenario = {
                "fault": fault,
                "fault_call": thrown.get("call", 1),
                "forward": forward,
                "expect": expect,
            }
            if expected_compensations is not None:
                scenario["compensations"] = expected_compensations
            name = f"{prefix}-{label}"
            write_case(name, definition, execution_input, script_of(returns_of(spec, tasks, overrides), throws), scenario)
            written.append(name)
    return written


def snapshot_inputs() -> dict[str, str]:
    """The generated files of every machine case (not the recordings), by relative path."""
    cases = CORPUS / "cases"
    return {
        str(path.relative_to(cases)): path.read_text()
        for path in sorted(cases.glob("machine-*/*.json"))
        if path.name != "expected.moto.json"
    }


def slug(state: str) -> str:
    return "".join(c.lower() if c.isalnum() else "-" for c in state).strip("-")


def main(arguments: list[str]) -> int:
    machines = sources()
    if "--check" in arguments:
        before = snapshot_inputs()
        try:
            generate(machines, recorded_order=True)
            after = snapshot_inputs()
        finally:
            # Put the committed files back, whatever the comparison says.
            for relative, text in before.items():
                (CORPUS / "cases" / relative).write_text(text)
            for relative in set(snapshot_inputs()) - set(before):
                (CORPUS / "cases" / relative).unlink()
        changed = sorted(
            {name.split("/")[0] for name in set(before) ^ set(after)}
            | {name.split("/")[0] for name in before.keys() & after.keys() if before[name] != after[name]}
        )
        if changed:
            print(f"machine cases out of date with their machines: {', '.join(changed)}")
            print("regenerate: .venv/tools/bin/python tests/asl-corpus/machines.py")
            return 1
        print(f"machine cases up to date with {len(machines)} machines")
        return 0
    cases = generate(machines)
    return run_moto.main(cases, check=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
