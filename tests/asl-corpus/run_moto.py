"""Runs every case of the ASL corpus on moto's Step Functions engine and records the outcomes.

Each case is a directory under `cases/` holding `definition.asl.json`, one or more inputs
(`input.json` or `input-<name>.json`) and optionally `tasks.json` (the scripted answers of its
stub Tasks, see README.md). For every input the state machine is started on moto with
`{"stepfunctions": {"execute_state_machine": true}, "lambda": {"use_docker": false}}` and its
final status with output, or error and cause, is written to the case's `expected.moto.json`
(keyed by input file name), so the differential test can compare our runner's outcome to it.

Usage (from the repository root):
    .venv/tools/bin/python tests/asl-corpus/run_moto.py [--check] [case-name ...]
With --check nothing is written: it exits 1 if moto's outcome differs from a committed
expected.moto.json (after a moto upgrade, say).

It starts its own moto server (scripts/moto_server.py) on a free loopback port and stops it at
the end. Why Python and boto3: the answers to stub Tasks go through SendTaskSuccess and
SendTaskFailure while the execution runs, which is a short polling loop here.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

CORPUS = Path(__file__).resolve().parent
CASES = CORPUS / "cases"
REPO = CORPUS.parent.parent
ROLE = "arn:aws:iam::123456789012:role/asl-corpus"
EXECUTION_DEADLINE_SECONDS = 60
PARALLEL_CASES = 8
POLL_SECONDS = 0.2
# The engine runs executions; Lambda answers without Docker by echoing the request (README).
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_moto(port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "scripts" / "moto_server.py"),
            *("-H", "127.0.0.1", "-p", str(port)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/moto-api/config"
    for _ in range(100):
        try:
            configure = urllib.request.Request(
                url,
                data=json.dumps(MOTO_CONFIG).encode(),
                method="POST",
            )
            urllib.request.urlopen(configure, timeout=2).read()
            return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("moto did not start")


def inputs_of(case: Path) -> dict[str, object]:
    found = {}
    for path in sorted(case.glob("input*.json")):
        found[path.stem] = json.loads(path.read_text())
    if not found:
        raise RuntimeError(f"{case.name}: no input*.json")
    return found


class TaskScript:
    """Answers the stub Tasks of one execution: the k-th call of a state gets the k-th answer
    of its script (the last one repeats); a state without a script returns its input."""

    def __init__(self, script: dict):
        self.script = script
        self.calls: dict[str, int] = {}

    def answer(self, state: str, task_input):
        answers = self.script.get(state)
        call = self.calls.get(state, 0)
        if not answers:
            return {"Return": task_input}
        return answers[min(call, len(answers) - 1)]

    def answered(self, state: str) -> None:
        self.calls[state] = self.calls.get(state, 0) + 1


def answer_callbacks(sfn, execution_arn: str, script: TaskScript, answered: set) -> None:
    history = sfn.get_execution_history(executionArn=execution_arn)["events"]
    for event in history:
        if event["type"] != "TaskScheduled" or event["id"] in answered:
            continue
        details = event["taskScheduledEventDetails"]
        if not details["resource"].endswith(".waitForTaskToken"):
            continue
        payload = json.loads(details["parameters"]).get("Payload", {})
        answer = script.answer(payload.get("state"), payload.get("input"))
        try:
            if "Throw" in answer:
                sfn.send_task_failure(
                    taskToken=payload["token"],
                    error=answer["Throw"].get("Error", ""),
                    cause=answer["Throw"].get("Cause", ""),
                )
            else:
                output = json.dumps(answer["Return"])
                sfn.send_task_success(taskToken=payload["token"], output=output)
        except sfn.exceptions.InvalidToken:
            # The event is in the history a moment before moto listens for the token (seen on
            # retries, which reuse the token): answer at the next poll.
            continue
        answered.add(event["id"])
        script.answered(payload.get("state"))


def scheduled_states(sfn, execution_arn: str) -> list[str]:
    """The state names of an execution's stub Task calls, in order (retries included): for the
    project's machines (`machine-*` cases), which steps and compensations ran."""
    names = []
    arguments = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**arguments)
        for event in page["events"]:
            if event["type"] == "TaskScheduled":
                parameters = json.loads(event["taskScheduledEventDetails"]["parameters"])
                names.append(parameters.get("Payload", {}).get("state"))
        if not page.get("nextToken"):
            return names
        arguments["nextToken"] = page["nextToken"]


def outcome_of(description: dict) -> dict:
    status = description["status"]
    if status == "SUCCEEDED":
        raw = description.get("output")
        try:
            return {"status": status, "output": json.loads(raw)}
        except (TypeError, ValueError):
            # moto answered with an output that is not JSON: keep it as it came (a quirk to note).
            return {"status": status, "output_not_json": raw}
    return {"status": status, "error": description.get("error"), "cause": description.get("cause")}


def run_execution(sfn, machine_arn: str, name: str, execution_input, script: TaskScript) -> dict:
    started = sfn.start_execution(
        stateMachineArn=machine_arn, name=name, input=json.dumps(execution_input)
    )
    arn = started["executionArn"]
    answered: set = set()
    deadline = time.monotonic() + EXECUTION_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        description = sfn.describe_execution(executionArn=arn)
        if description["status"] != "RUNNING":
            outcome = outcome_of(description)
            if name.startswith("machine-"):
                outcome["task_states"] = scheduled_states(sfn, arn)
            return outcome
        answer_callbacks(sfn, arn, script, answered)
        time.sleep(POLL_SECONDS)
    sfn.stop_execution(executionArn=arn, error="Corpus.Deadline", cause="runner deadline")
    return {"status": "RUNNER_DEADLINE", "error": None, "cause": None}


def run_case(sfn, case: Path) -> dict:
    definition = (case / "definition.asl.json").read_text()
    script_path = case / "tasks.json"
    script = json.loads(script_path.read_text()) if script_path.exists() else {}
    try:
        machine = sfn.create_state_machine(name=case.name, definition=definition, roleArn=ROLE)
    except sfn.exceptions.ClientError as refused:
        error = refused.response["Error"]
        refusal = {"status": "REFUSED", "error": error.get("Code"), "cause": error.get("Message")}
        return {"create": refusal}
    outcomes = {}
    for input_name, execution_input in inputs_of(case).items():
        outcomes[input_name] = run_execution(
            sfn,
            machine["stateMachineArn"],
            f"{case.name}-{input_name}",
            execution_input,
            TaskScript(script),
        )
    return outcomes


def client(port: int):
    return boto3.session.Session().client(
        "stepfunctions",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="corpus",
        aws_secret_access_key="corpus",
    )


def record(port: int, case: Path) -> dict:
    """One case's outcomes, or the recorder's own failure (one broken case must not hide
    others)."""
    try:
        return run_case(client(port), case)
    except Exception as crash:  # noqa: BLE001
        return {"runner": {"status": "RUNNER_ERROR", "error": type(crash).__name__, "cause": str(crash)}}


def main(selected: list[str], check: bool) -> int:
    cases = [
        c for c in sorted(CASES.iterdir()) if c.is_dir() and (not selected or c.name in selected)
    ]
    changed: list[str] = []
    broken: list[str] = []
    port = free_port()
    server = start_moto(port)
    try:
        # Cases run side by side (each case's executions one after the other): moto's engine
        # runs executions on their own threads, and the recorder mostly waits.
        with ThreadPoolExecutor(max_workers=PARALLEL_CASES) as pool:
            results = list(pool.map(lambda case: (case, record(port, case)), cases))
        for case, outcomes in results:
            if any(o.get("status", "").startswith("RUNNER_") for o in outcomes.values()):
                broken.append(case.name)
            recorded = json.dumps(outcomes, indent=2, sort_keys=True) + "\n"
            expected = case / "expected.moto.json"
            if check:
                if not expected.exists() or expected.read_text() != recorded:
                    changed.append(case.name)
            else:
                expected.write_text(recorded)
            summary = ", ".join(
                f"{name}: {outcome.get('status')} {outcome.get('error') or ''}".strip()
                for name, outcome in outcomes.items()
            )
            print(f"{case.name}: {summary}")
    finally:
        server.terminate()
        server.wait(timeout=10)
    if broken:
        print(f"the recorder could not finish: {', '.join(broken)}")
    if changed:
        print(f"moto's outcome differs from expected.moto.json in: {', '.join(changed)}")
    return 1 if broken or changed else 0


if __name__ == "__main__":
    os.chdir(REPO)
    arguments = sys.argv[1:]
    sys.exit(main([a for a in arguments if a != "--check"], "--check" in arguments))
