"""Turns the project's state machines into corpus cases with scripted Tasks, so moto's engine and
our runner run the real machines (their Retry, Catch and compensation paths) side by side.

For every machine (`statemachines/<name>.asl.json`, and the fixture `machines/sample-saga.asl.json`
that stands for their shape) it writes `cases/machine-<name>-<scenario>/`:

- `definition.asl.json`: the machine with `${SagaStepFunctionArn}` substituted and every
  `arn:aws:states:::lambda:invoke` Task rewritten into the callback form of README.md (same
  state name, Retry, Catch, ResultSelector, ResultPath, OutputPath; `Payload` = the original
  Payload plus `token`, `state` and `input`), so the recorder can script each Task's answer;
- `input.json`: the machine's input from its spec (`machines/<name>.json`);
- `tasks.json`: `{"Return": {"Payload": <answer>}}` for every Task (the spec's `returns`, else a
  Payload built from the paths the Task's ResultSelector reads), and for a fault scenario a
  single `Throw` for the faulted Task (on moto a retried callback Task replays it, quirk 5, and
  so does our stub: Retry is exhausted, then the Catch runs);
- `scenario.json`: what the differential test checks besides the moto comparison: the Task
  states of the happy path (`forward`), the faulted state, the expected final status and
  error (the spec's `fault_errors`, else `compensated_error`), and, when the spec lists them,
  the compensation Tasks that must run after the fault, in order.

Scenarios: `ok` (every Task answers), `fault-<k>-<state>` for the k-th Task state of the happy
path (a non-retryable `Platform.Failed`), and `throttled-1-<state>` (the first Task throttled on
every attempt: Retry exhausted, then Catch). The happy path's Task order comes from running the
`ok` case on moto. Then every machine case is recorded with run_moto.py.

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


def answers(spec: dict, tasks: dict[str, dict]) -> dict:
    returns = spec.get("returns", {})
    script = {}
    for name, state in tasks.items():
        answer = returns.get(name, placeholder_payload(state))
        if isinstance(answer, list):
            script[name] = [{"Return": {"Payload": item}} for item in answer]
        else:
            script[name] = [{"Return": {"Payload": answer}}]
    return script


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
    """The Task states the `ok` case runs on moto, first calls in order."""
    recorded = json.loads((CORPUS / "cases" / case / "expected.moto.json").read_text())
    outcome = recorded["input"]
    if outcome.get("status") != "SUCCEEDED":
        raise RuntimeError(f"{case}: the happy path does not succeed on moto: {outcome}")
    order: list[str] = []
    for state in outcome["task_states"]:
        if state not in order:
            order.append(state)
    return order


def generate(selected_machines: dict[str, Path], recorded_order: bool = False) -> list[str]:
    """Writes every machine case; returns their names. The happy path's Task order comes from
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
        script = answers(spec, tasks)
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
        scenario = {"expect": {"status": "SUCCEEDED"}, "forward": forward}
        write_case(ok, definition, execution_input, script, scenario)
        written.append(ok)
        compensated = spec.get("compensated_error", "Saga.Compensated")
        for step, state in enumerate(forward, start=1):
            faults = [("fault", FAULT)]
            if step == 1:
                faults.append(("throttled", THROTTLED))
            for label, thrown in faults:
                faulted = dict(script)
                faulted[state] = [{"Throw": thrown}]
                error = spec.get("fault_errors", {}).get(state, compensated)
                scenario = {
                    "fault": state,
                    "forward": forward,
                    "expect": {"status": "FAILED", "error": error},
                }
                if state in spec.get("compensations", {}):
                    scenario["compensations"] = spec["compensations"][state]
                name = f"{prefix}-{label}-{step}-{slug(state)}"
                write_case(name, definition, execution_input, faulted, scenario)
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
