"""Run Lambda functions in-process inside moto (no Docker), so the embedded stack runs the real handlers.

moto 5.2.5 runs Lambda code only in Docker, which these machines lack. `install()` applies the few
patches below; each says why. They rely on moto internals, so the version is pinned and checked.

- `LambdaFunction._invoke_lambda` -> `invoke_in_process`: unzip the function's code (cached by code
  sha), import its handler under a unique module name, call it with a context object under the
  function's environment variables, return the JSON result or a Lambda-style error payload; output
  goes to the function's CloudWatch log group. Every path that invokes a function in moto (Invoke
  API, SQS event source mappings, CloudFormation custom resources, Step Functions Lambda tasks) goes
  through this method. Functions run one at a time (a re-entrant lock): os.environ is per process.
- Whole-environment reads outside a function: the function's variables are set on os.environ for
  the call and deleted afterwards, but other threads (Step Functions tasks, the gateway, the caller)
  keep running. Iterating os.environ lists its keys, then reads each one, so a key deleted in between
  raises KeyError in the reader. The one such reader outside functions (found by tracing os.environ
  iteration through the demo) is urllib's proxy lookup, which botocore runs for every new client (a
  Step Functions Lambda task makes one per call: a model-run chunk failed with "'DATA_BUCKET'") and
  urllib's `build_opener` for every `urlopen`. It is wrapped to hold the runtime lock, so it reads
  the environment between functions, never mid-swap.
- Custom resources: moto invokes the function in a thread while the stack is still creating its
  other resources, and a response arriving mid-creation can leave the stack CREATE_IN_PROGRESS for
  ever; `CustomModel.create_from_cloudformation_json` and `Stack.create_resources` are replaced so
  that the invocation runs (synchronously) once every other resource exists. moto passes non-string
  properties (CloudFormation passes strings) and a response URL on host.docker.internal: the runner
  stringifies the properties and delivers the handler's response to moto's CloudFormation backend
  directly (a `urllib.request.urlopen` hook that only answers our own placeholder host; a FAILED
  response fails the stack with its reason, which moto would ignore).
- `StateMachine.create_from_cloudformation_json`: moto writes CloudFormation-created state machines
  to the plain Step Functions backend, which cannot execute them; register them with the parser
  backend when `execute_state_machine` is on.
- S3 event notifications: moto's records lack `sequencer` (always present in S3) and `versionId`
  (present for versioned buckets); consumers use them to tell object versions apart and to order
  events. `_get_s3_event` is wrapped to add both (sequencer: increasing hex, as S3's).
- `moto.settings.moto_server_host`: when /proc/self/cgroup mentions docker it shells out to curl
  against the Docker socket (and prints a warning) to build that response URL, which we replace
  anyway; it returns 127.0.0.1 instead.
- SQS event source mappings: moto invokes the function synchronously inside SendMessage (so inside
  the S3 PutObject that notified the queue), one message per call, and deletes the whole batch unless
  the function raised. Lambda polls asynchronously, sends up to BatchSize records per call and, with
  `ReportBatchItemFailures`, keeps only the reported messages. `Queue.add_message` is wrapped to hand
  the queue to a background poller that does that; failed messages stay in flight until their
  visibility timeout, then a periodic sweep retries them (moto's redrive policy moves them to the
  DLQ). Synchronous delivery would also deadlock in server mode (a function's S3 call waiting for a
  function that waits for the lock). `wait_until_idle()` lets tests and the demo wait for delivery.
- DynamoDB stream event source mappings (the audit table's stream -> audit_sealer): moto invokes the
  function synchronously inside the PutItem that made the record (so inside the audit write of
  another function, whose environment it would then tear down, or deadlocking in server mode as
  above). `StreamShard.add` is wrapped to record as moto does and hand the shard to the same poller,
  which sends what accumulated as one batch per mapping (up to BatchSize records, oldest first) and
  keeps a failed batch for the next sweep, as Lambda retries a stream batch. moto's records carry no
  `userIdentity` (it never expires items by TTL).

Third-party packages come from the project's venv, and so does our own `witan` package (installed
editable from layers/shared/python/witan, the same source the shared-code layer ships): the layers
in the template are built for the Lambda runtime's Python and are not imported here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import queue
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import urllib.request
import urllib.response
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

import botocore.utils
import moto
from moto import settings as moto_settings
from moto.awslambda import models as lambda_models
from moto.cloudformation import custom_model
from moto.cloudformation import models as cfn_models
from moto.dynamodb.models import table as ddb_table_models
from moto.s3 import notifications as s3_notifications
from moto.sqs import models as sqs_models
from moto.stepfunctions import models as sfn_models

SUPPORTED_MOTO_VERSION = "5.2.5"

# Placeholder host for custom-resource responses; `_urlopen` answers it without any network.
CFN_RESPONSE_HOST = "witan-local-cfn-response.invalid"

# How long a call waits for another in-process function to finish before failing like a throttle.
LOCK_TIMEOUT_S = 300.0

_DEFAULT_ENV = {
    # X-Ray has no daemon here; Powertools Tracer would log errors on every call.
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


# Set over every function's own variables: moto's Cognito issues ID tokens without the `amr` claim, so
# the demo admin could never show MFA (the template says ADMIN_MFA=required: witan.api.identity).
LOCAL_FUNCTION_ENV = {"ADMIN_MFA": "off"}


@dataclass
class RuntimeConfig:
    """Where handler AWS calls go and what extra environment they get."""

    # None in-process (mock_aws intercepts boto3); the ThreadedMotoServer URL in server mode.
    endpoint_url: str | None = None
    # Applied after the function's own variables (e.g. POWERTOOLS_LOG_LEVEL for a quiet demo).
    env_overrides: dict[str, str] = field(default_factory=dict)
    # Echo captured function output to the real stderr as well as to CloudWatch Logs.
    echo_logs: bool = False


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_ms: float

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.deadline_ms - time.time() * 1000))


@dataclass
class _LoadedFunction:
    handler: Callable[[Any, LambdaContext], Any]
    code_dir: Path
    # Sibling modules the handler imported (e.g. `routes`), kept out of sys.modules between calls so
    # that two functions with a module of the same name never see each other's.
    private_modules: dict[str, ModuleType]


config = RuntimeConfig()
_config_stack: list[RuntimeConfig] = []
_lock = threading.RLock()
_installed: dict[str, Any] = {}
_code_root: Path | None = None
_loaded: dict[tuple[str, str, str], _LoadedFunction] = {}
_thread_state = threading.local()


class LocalRuntimeError(Exception):
    """The function could not be loaded (bad zip, missing handler)."""


# --- output capture -------------------------------------------------------------------------------


class _RoutedStream(io.TextIOBase):
    """Stands in for stdout/stderr during calls: writes from a thread running a function go to its
    log buffer (then to CloudWatch Logs), other writes to the stream it replaced. Loggers created
    during a call keep a reference to this object, so later calls are captured too."""

    def __init__(self, fallback: TextIO) -> None:
        self.fallback = fallback

    def write(self, text: str) -> int:
        buffer: io.StringIO | None = getattr(_thread_state, "buffer", None)
        if buffer is not None:
            if config.echo_logs:
                sys.__stderr__.write(text)
            return buffer.write(text)
        return self.fallback.write(text)

    def flush(self) -> None:
        with contextlib.suppress(ValueError):  # a pytest capture stream may already be closed
            self.fallback.flush()


_stdout = _RoutedStream(sys.__stdout__)
_stderr = _RoutedStream(sys.__stderr__)


@contextlib.contextmanager
def _capture_output() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    previous = getattr(_thread_state, "buffer", None)
    _thread_state.buffer = buffer
    saved = sys.stdout, sys.stderr
    if sys.stdout is not _stdout:
        _stdout.fallback = sys.stdout
    if sys.stderr is not _stderr:
        _stderr.fallback = sys.stderr
    sys.stdout, sys.stderr = _stdout, _stderr
    try:
        yield buffer
    finally:
        sys.stdout, sys.stderr = saved
        _thread_state.buffer = previous


# --- code loading ---------------------------------------------------------------------------------


def _code_dir(fn: lambda_models.LambdaFunction) -> Path:
    """Unzip the function's code once per code sha."""
    global _code_root
    if not fn.code_bytes:
        raise LocalRuntimeError(f"function {fn.function_name} has no code")
    if _code_root is None:
        _code_root = Path(tempfile.mkdtemp(prefix="witan-lambda-"))
    target = _code_root / (fn.code_sha_256 or uuid.uuid4().hex)
    if not target.exists():
        staging = target.with_suffix(".partial")
        with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
            archive.extractall(staging)
        staging.rename(target)
    return target


def _load(fn: lambda_models.LambdaFunction) -> _LoadedFunction:
    # One "execution environment" per function and code: module-level state (clients, wiring built
    # from the environment) is never shared between two functions, as in Lambda.
    key = (fn.function_arn, fn.code_sha_256, fn.handler or "")
    if key in _loaded:
        return _loaded[key]
    code_dir = _code_dir(fn)
    module_path, _, function_name = (fn.handler or "").rpartition(".")
    if not module_path or not function_name:
        raise LocalRuntimeError(f"bad handler {fn.handler!r} for {fn.function_name}")
    source = code_dir / (module_path.replace(".", "/") + ".py")
    if not source.is_file():
        raise LocalRuntimeError(f"handler module {module_path} not found in {fn.function_name}'s code")
    unique_name = f"_witan_lambda_{len(_loaded)}_{fn.function_name}_{module_path}".replace(".", "_").replace(
        "-", "_"
    )
    spec = importlib.util.spec_from_file_location(unique_name, source)
    if spec is None or spec.loader is None:
        raise LocalRuntimeError(f"cannot load {source}")
    module = importlib.util.module_from_spec(spec)
    before = set(sys.modules)
    sys.modules[unique_name] = module  # dataclasses and pickling look the module up by name
    sys.path.insert(0, str(code_dir))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(unique_name, None)
        raise
    finally:
        sys.path.remove(str(code_dir))
        private = _take_private_modules(before, code_dir)
    loaded = _LoadedFunction(getattr(module, function_name), code_dir, private)
    _loaded[key] = loaded
    return loaded


def _take_private_modules(before: set[str], code_dir: Path) -> dict[str, ModuleType]:
    """Remove modules imported from the function's own folder from sys.modules and return them."""
    private: dict[str, ModuleType] = {}
    for name in set(sys.modules) - before:
        module = sys.modules[name]
        origin = getattr(module, "__file__", None)
        if origin and Path(origin).resolve().is_relative_to(code_dir.resolve()):
            private[name] = sys.modules.pop(name)
    return private


@contextlib.contextmanager
def _function_scope(loaded: _LoadedFunction) -> Iterator[None]:
    """Make the function's own modules importable (as in /var/task) for the duration of a call."""
    before = set(sys.modules)
    sys.modules.update(loaded.private_modules)
    sys.path.insert(0, str(loaded.code_dir))
    try:
        yield
    finally:
        sys.path.remove(str(loaded.code_dir))
        for name in loaded.private_modules:
            sys.modules.pop(name, None)
        loaded.private_modules.update(_take_private_modules(before, loaded.code_dir))


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        for name in set(os.environ) - set(saved):
            del os.environ[name]
        for name, value in saved.items():
            if os.environ.get(name) != value:
                os.environ[name] = value


def _function_env(fn: lambda_models.LambdaFunction, code_dir: Path) -> dict[str, str]:
    env = dict(_DEFAULT_ENV)
    env.update(
        {
            "_HANDLER": fn.handler or "",
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
            "AWS_LAMBDA_LOG_GROUP_NAME": fn.logs_group_name,
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "LAMBDA_TASK_ROOT": str(code_dir),
        }
    )
    env.update({k: str(v) for k, v in (fn.environment_vars or {}).items()})
    env.update(LOCAL_FUNCTION_ENV)
    if config.endpoint_url:
        env["AWS_ENDPOINT_URL"] = config.endpoint_url
    env.update(config.env_overrides)
    return env


# --- custom resources -----------------------------------------------------------------------------


def _cfn_string(value: Any) -> Any:
    """CloudFormation hands custom resources every scalar property as a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return {k: _cfn_string(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cfn_string(v) for v in value]
    return value


def _prepare_custom_resource(event: Any, fn: lambda_models.LambdaFunction) -> Any:
    if not (isinstance(event, dict) and "ResponseURL" in event and "RequestType" in event):
        return event
    event = dict(event)
    event["ResourceProperties"] = _cfn_string(event.get("ResourceProperties", {}))
    query = urllib.parse.urlencode({"account": fn.account_id, "region": fn.region})
    event["ResponseURL"] = f"http://{CFN_RESPONSE_HOST}/cfnresponse?{query}"
    return event


def _deliver_cfn_response(url: str, body: bytes) -> None:
    """Do what moto's /cfnresponse endpoint does, plus mark the stack failed on FAILED."""
    from moto.cloudformation.models import cloudformation_backends

    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    response = json.loads(body or b"{}")
    backend = cloudformation_backends[params["account"]][params["region"]]
    stack = backend.get_stack(response["StackId"])
    if response.get("Status") == "SUCCESS":
        stack.get_custom_resource(response["LogicalResourceId"]).set_data(response.get("Data") or {})
        stack.verify_readiness()
    else:
        stack.status = "CREATE_FAILED"
        stack._add_stack_event(
            "CREATE_FAILED",
            resource_status_reason=f"{response.get('LogicalResourceId')}: {response.get('Reason')}",
        )


def _urlopen(request: Any, *args: Any, **kwargs: Any) -> Any:
    url = request.full_url if isinstance(request, urllib.request.Request) else str(request)
    if urllib.parse.urlsplit(url).hostname != CFN_RESPONSE_HOST:
        return _installed["urlopen"](request, *args, **kwargs)
    data = request.data if isinstance(request, urllib.request.Request) else kwargs.get("data")
    _deliver_cfn_response(url, data or b"")
    return urllib.response.addinfourl(io.BytesIO(b""), Message(), url, code=200)


def _between_functions(read: Callable[..., Any]) -> Callable[..., Any]:
    """`read` (a whole-os.environ read) run under the runtime lock: while a function runs, its
    environment is being set and deleted, and iterating os.environ then can raise KeyError. Re-entrant,
    so a function's own calls go straight through; a thread of a function's own that reads while its
    parent waits for it gets through after LOCK_TIMEOUT_S, unlocked, rather than never."""

    def locked(*args: Any, **kwargs: Any) -> Any:
        acquired = _lock.acquire(timeout=LOCK_TIMEOUT_S)
        try:
            return read(*args, **kwargs)
        finally:
            if acquired:
                _lock.release()

    return locked


_pending_custom_resources: dict[str, list[tuple[Any, dict[str, Any]]]] = {}


def _patched_custom_resource_from_cfn(
    cls: type[Any],
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    """As moto's, but the Lambda call is queued until the stack's other resources exist."""
    from moto.cloudformation.custom_model import CustomModel
    from moto.cloudformation.models import cloudformation_backends

    properties = cloudformation_json["Properties"]
    fn = lambda_models.lambda_backends[account_id][region_name].get_function(properties["ServiceToken"])
    request_id = str(uuid.uuid4())
    custom_resource = CustomModel(region_name, request_id, kwargs["LogicalId"], resource_name)
    stack_id = kwargs["StackId"]
    cloudformation_backends[account_id][region_name].get_stack(stack_id).add_custom_resource(custom_resource)
    event = {
        "RequestType": "Create",
        "ServiceToken": properties["ServiceToken"],
        "ResponseURL": "",  # set by _prepare_custom_resource
        "StackId": stack_id,
        "RequestId": request_id,
        "LogicalResourceId": kwargs["LogicalId"],
        "ResourceType": kwargs["ResourceType"],
        "ResourceProperties": properties,
    }
    _pending_custom_resources.setdefault(stack_id, []).append((fn, event))
    return custom_resource


def _patched_create_resources(self: Any) -> None:
    _installed["create_resources"](self)
    for fn, event in _pending_custom_resources.pop(self.stack_id, []):
        fn.invoke(json.dumps(event), {}, {})


_sequencer_lock = threading.Lock()
_last_sequencer = 0


def _next_sequencer() -> str:
    """Strictly increasing, like S3's per-key sequencer (compared as hex after padding)."""
    global _last_sequencer
    with _sequencer_lock:
        _last_sequencer = max(_last_sequencer + 1, time.time_ns())
        return f"{_last_sequencer:X}"


def _patched_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
    event: dict[str, Any] = _installed["s3_event"](event_name, bucket, key, notification_id)
    for record in event["Records"]:
        obj = record["s3"]["object"]
        obj.setdefault("sequencer", _next_sequencer())
        version_id = getattr(key, "version_id", None)
        if version_id and version_id != "null":
            obj.setdefault("versionId", version_id)
    return event


# --- the runner -----------------------------------------------------------------------------------


def _error_payload(error_type: str, message: str, stack: list[str] | None = None) -> str:
    return json.dumps({"errorType": error_type, "errorMessage": message, "stackTrace": stack or []})


def invoke_in_process(fn: lambda_models.LambdaFunction, event: Any) -> tuple[str, bool, str]:
    """Run the function once; returns (payload JSON, errored, log text) like moto's Docker runner."""
    if event is None or event == "{}":  # moto passes the string "{}" for an empty payload
        event = {}
    event = _prepare_custom_resource(event, fn)
    request_id = str(uuid.uuid4())
    if not _lock.acquire(timeout=LOCK_TIMEOUT_S):
        message = f"in-process runtime busy for {LOCK_TIMEOUT_S:.0f}s"
        return _error_payload("TooManyRequestsException", message), True, ""
    try:
        with _capture_output() as logs:
            print(f"START RequestId: {request_id} Version: {fn.version}")
            try:
                code_dir = _code_dir(fn)
                context = LambdaContext(
                    function_name=fn.function_name,
                    function_version=str(fn.version),
                    invoked_function_arn=fn.function_arn,
                    memory_limit_in_mb=int(fn.memory_size),
                    aws_request_id=request_id,
                    log_group_name=fn.logs_group_name,
                    log_stream_name=request_id,
                    deadline_ms=time.time() * 1000 + int(fn.timeout) * 1000,
                )
                with _environment(_function_env(fn, code_dir)):
                    loaded = _load(fn)  # module-level clients read the function's environment
                    with _function_scope(loaded):
                        result = loaded.handler(event, context)
                payload, errored = json.dumps(result), False
            except Exception as exc:
                stack = traceback.format_exception(exc)
                print("".join(stack), end="")
                error_type = "Runtime.ImportModuleError" if isinstance(exc, LocalRuntimeError) else None
                payload = _error_payload(error_type or type(exc).__name__, str(exc), stack)
                errored = True
            print(f"END RequestId: {request_id}")
        log_text = logs.getvalue()
    finally:
        _lock.release()
    fn.save_logs(log_text)
    return payload, errored, log_text


def _patched_invoke_lambda(self: lambda_models.LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    self.logs_backend.ensure_log_group(self.logs_group_name)
    return invoke_in_process(self, event)


def _patched_state_machine_from_cfn(
    cls: type[sfn_models.StateMachine],
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> sfn_models.StateMachine:
    from moto.stepfunctions.responses import get_backend

    properties = cloudformation_json["Properties"]
    backend = get_backend(account_id, region_name)  # the parser backend when execution is on
    return backend.create_state_machine(
        properties.get("StateMachineName", resource_name),
        properties.get("DefinitionString", ""),
        properties.get("RoleArn", ""),
        tags=sfn_models.cfn_to_api_tags(properties.get("Tags", [])),
        sm_type=properties.get("StateMachineType"),
    )


class _SqsPoller:
    """Lambda's SQS poller: one background thread delivering queued messages to mapped functions."""

    SWEEP_INTERVAL_S = 1.0

    def __init__(self) -> None:
        self._pending: queue.Queue[Any] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="witan-sqs-poller", daemon=True)
        self._thread.start()

    def notify(self, sqs_queue: Any) -> None:
        self._pending.put(sqs_queue)

    def stop(self) -> None:
        self._stop.set()
        self._pending.put(None)  # wake the thread now rather than at its next sweep
        self._thread.join(timeout=10)

    def wait_until_idle(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self._pending.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sqs_queue = self._pending.get(timeout=self.SWEEP_INTERVAL_S)
            except queue.Empty:
                self._sweep()
                continue
            try:
                if isinstance(sqs_queue, ddb_table_models.StreamShard):
                    self._drain_stream(sqs_queue)
                elif sqs_queue is not None:
                    self._drain(sqs_queue)
            except Exception:  # keep polling; the function's own errors are in its logs
                traceback.print_exc()
            finally:
                self._pending.task_done()

    def _sweep(self) -> None:
        """Retry messages whose visibility timeout has passed (as Lambda's poller would)."""
        from moto.sqs.models import sqs_backends

        for regions in list(sqs_backends.values()):
            for backend in list(regions.values()):
                for sqs_queue in list(backend.queues.values()):
                    if sqs_queue.lambda_event_source_mappings and not self._stop.is_set():
                        with contextlib.suppress(Exception):
                            self._drain(sqs_queue)
        for shard in list(_stream_backlog):
            if not self._stop.is_set():
                with contextlib.suppress(Exception):
                    self._drain_stream(shard)

    def _drain_stream(self, shard: Any) -> None:
        """Deliver a stream shard's new records to its mapped functions; keep them if one fails."""
        from moto.awslambda.utils import get_backend

        with _stream_lock:
            records, shard.items = list(shard.items), []
            _stream_backlog.discard(shard)
        if not records:
            return
        table = shard.table
        failed = False
        for arn, esm in list(table.lambda_event_source_mappings.items()):
            if not esm.enabled:
                continue
            functions = get_backend(shard.account_id, arn.split(":")[3])
            size = int(esm.batch_size or 100)
            for start in range(0, len(records), size):
                response_headers: dict[str, Any] = {}
                body = _stream_event(records[start : start + size], esm, functions)
                functions.invoke(arn, None, body, {}, response_headers)
                if "x-amz-function-error" in response_headers:
                    failed = True
                    break
        if not failed:
            _stream_failures.pop(id(shard), None)
            return
        # Retried at the next sweep, as Lambda retries a stream batch, up to the mapping's attempts.
        attempts = _stream_failures.get(id(shard), 0) + 1
        if attempts > STREAM_MAX_RETRIES:
            _stream_failures.pop(id(shard), None)
            print(
                f"stream batch of {len(records)} record(s) dropped after {attempts - 1} retries",
                file=sys.stderr,
            )
            return
        _stream_failures[id(shard)] = attempts
        with _stream_lock:
            shard.items = records + shard.items
            _stream_backlog.add(shard)

    def _drain(self, sqs_queue: Any) -> None:
        from moto.awslambda.utils import get_backend
        from moto.sqs.models import sqs_backends

        sqs = sqs_backends[sqs_queue.account_id][sqs_queue.region]
        functions = get_backend(sqs_queue.account_id, sqs_queue.region)
        for esm in list(sqs_queue.lambda_event_source_mappings.values()):
            while esm.enabled and not self._stop.is_set():
                messages = sqs.receive_message(
                    sqs_queue.name, int(esm.batch_size or 10), 0, int(sqs_queue.visibility_timeout or 30)
                )
                if not messages:
                    break
                failed = self._deliver(functions, esm, sqs_queue, messages)
                for message in messages:
                    if message.id not in failed:
                        sqs.delete_message(sqs_queue.name, message.receipt_handle)

    @staticmethod
    def _deliver(functions: Any, esm: Any, sqs_queue: Any, messages: list[Any]) -> set[str]:
        """Invoke the function with one batch; return the ids of messages to keep."""
        records = [
            {
                "messageId": m.id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": {
                    "ApproximateReceiveCount": str(m.approximate_receive_count),
                    "SentTimestamp": str(m.sent_timestamp),
                    "SenderId": str(m.sender_id),
                    "ApproximateFirstReceiveTimestamp": str(m.approximate_first_receive_timestamp),
                },
                "messageAttributes": {},
                "md5OfBody": m.body_md5,
                "eventSource": "aws:sqs",
                "eventSourceARN": sqs_queue.queue_arn,
                "awsRegion": sqs_queue.region,
            }
            for m in messages
        ]
        response_headers: dict[str, Any] = {}
        payload = functions.invoke(
            esm.function_arn, None, json.dumps({"Records": records}), {}, response_headers
        )
        all_ids = {m.id for m in messages}
        if "x-amz-function-error" in response_headers:
            return all_ids
        if "ReportBatchItemFailures" not in (esm.function_response_types or []):
            return set()
        try:
            result = json.loads(payload or b"null")
            failures = result.get("batchItemFailures") or [] if isinstance(result, dict) else []
            return {str(f["itemIdentifier"]) for f in failures} & all_ids
        except (ValueError, KeyError, TypeError):
            return all_ids  # an unreadable response fails the whole batch, as in Lambda


_poller: _SqsPoller | None = None
_add_message_lock = threading.Lock()
_stream_lock = threading.Lock()
_stream_backlog: set[Any] = set()  # shards holding a batch that failed, for the sweep
_stream_failures: dict[int, int] = {}  # consecutive failed deliveries per shard
# As infra/audit_seal.py's mapping (retry_attempts=10): then the batch is dropped, as Lambda does.
STREAM_MAX_RETRIES = 10


def _stream_event(records: list[Any], esm: Any, functions: Any) -> str:
    """The Lambda event for stream records, as moto's send_dynamodb_items builds it."""
    from moto.core.utils import unix_time

    built = []
    for item in records:
        record = item.to_json()
        dynamodb = dict(record["dynamodb"])
        when = dynamodb.get("ApproximateCreationDateTime")
        if hasattr(when, "timestamp"):
            dynamodb["ApproximateCreationDateTime"] = unix_time(when)
        built.append(
            {
                "eventID": record["eventID"],
                "eventName": record["eventName"],
                "eventVersion": record["eventVersion"],
                "eventSource": record["eventSource"],
                "awsRegion": functions.region_name,
                "dynamodb": dynamodb,
                "eventSourceARN": esm.event_source_arn,
            }
        )
    return json.dumps({"Records": built}, default=str)


def _patched_stream_add(self: Any, old: Any, new: Any) -> None:
    """Record the change as moto does, but hand delivery to the poller instead of invoking inline."""
    with _stream_lock:
        mappings = self.table.lambda_event_source_mappings
        self.table.lambda_event_source_mappings = {}
        try:
            _installed["stream_add"](self, old, new)
        finally:
            self.table.lambda_event_source_mappings = mappings
    if mappings and _poller is not None:
        _poller.notify(self)


def _patched_add_message(self: Any, message: Any) -> None:
    """Queue the message as moto does, but hand delivery to the poller instead of invoking inline."""
    with _add_message_lock:
        mappings = self.lambda_event_source_mappings
        self.lambda_event_source_mappings = {}
        try:
            _installed["add_message"](self, message)
        finally:
            self.lambda_event_source_mappings = mappings
    if mappings and _poller is not None:
        _poller.notify(self)


def wait_until_idle(timeout_s: float = 60.0) -> bool:
    """Wait until every queued message notification has been delivered; False on timeout."""
    return _poller.wait_until_idle(timeout_s) if _poller is not None else True


def install(endpoint_url: str | None = None, env_overrides: dict[str, str] | None = None) -> None:
    """Apply the patches (idempotent) and set where handler AWS calls go."""
    global _poller
    if moto.__version__ != SUPPORTED_MOTO_VERSION:
        raise RuntimeError(
            f"local.lambda_runtime patches moto {SUPPORTED_MOTO_VERSION}, found {moto.__version__}"
        )
    # Installs nest (a test's stack inside a session's): each uninstall restores the previous config.
    _config_stack.append(RuntimeConfig(config.endpoint_url, dict(config.env_overrides), config.echo_logs))
    config.endpoint_url = endpoint_url
    config.env_overrides = dict(env_overrides or {})
    config.echo_logs = os.environ.get("WITAN_LOCAL_ECHO_LOGS") == "1"
    if _installed:
        return
    _installed["invoke_lambda"] = lambda_models.LambdaFunction._invoke_lambda
    _installed["add_message"] = sqs_models.Queue.add_message
    _installed["stream_add"] = ddb_table_models.StreamShard.add
    _installed["state_machine_from_cfn"] = sfn_models.StateMachine.__dict__["create_from_cloudformation_json"]
    _installed["urlopen"] = urllib.request.urlopen
    _installed["s3_event"] = s3_notifications._get_s3_event
    _installed["custom_from_cfn"] = custom_model.CustomModel.__dict__["create_from_cloudformation_json"]
    _installed["create_resources"] = cfn_models.Stack.create_resources
    _installed["moto_server_host"] = moto_settings.moto_server_host
    _installed["getproxies_environment"] = urllib.request.getproxies_environment
    _installed["getproxies"] = urllib.request.getproxies
    _installed["botocore_getproxies"] = botocore.utils.getproxies
    lambda_models.LambdaFunction._invoke_lambda = _patched_invoke_lambda  # type: ignore[method-assign]
    sqs_models.Queue.add_message = _patched_add_message  # type: ignore[method-assign]
    ddb_table_models.StreamShard.add = _patched_stream_add  # type: ignore[method-assign]
    sfn_models.StateMachine.create_from_cloudformation_json = classmethod(  # type: ignore[method-assign,assignment]
        _patched_state_machine_from_cfn
    )
    urllib.request.urlopen = _urlopen
    s3_notifications._get_s3_event = _patched_s3_event
    custom_model.CustomModel.create_from_cloudformation_json = classmethod(  # type: ignore[method-assign,assignment]
        _patched_custom_resource_from_cfn
    )
    cfn_models.Stack.create_resources = _patched_create_resources  # type: ignore[method-assign]
    moto_settings.moto_server_host = _local_host  # type: ignore[assignment]
    # urllib.request calls `getproxies_environment` by its module name (proxy_bypass_environment) and
    # `getproxies` (an alias of it on Linux; ProxyHandler); botocore imported `getproxies` by name.
    urllib.request.getproxies_environment = _between_functions(_installed["getproxies_environment"])
    urllib.request.getproxies = _between_functions(_installed["getproxies"])
    botocore.utils.getproxies = urllib.request.getproxies
    _poller = _SqsPoller()


def _local_host() -> str:
    return "http://127.0.0.1"


def uninstall() -> None:
    """Undo the latest `install`; the patches go when the outermost one is undone."""
    global _poller
    if _config_stack:
        previous = _config_stack.pop()
        config.endpoint_url, config.env_overrides, config.echo_logs = (
            previous.endpoint_url,
            previous.env_overrides,
            previous.echo_logs,
        )
    if _config_stack or not _installed:
        return
    if _poller is not None:
        _poller.stop()
        _poller = None
    lambda_models.LambdaFunction._invoke_lambda = _installed.pop("invoke_lambda")  # type: ignore[method-assign]
    sqs_models.Queue.add_message = _installed.pop("add_message")  # type: ignore[method-assign]
    ddb_table_models.StreamShard.add = _installed.pop("stream_add")  # type: ignore[method-assign]
    _stream_backlog.clear()
    _stream_failures.clear()
    sfn_models.StateMachine.create_from_cloudformation_json = _installed.pop("state_machine_from_cfn")  # type: ignore[method-assign]
    urllib.request.urlopen = _installed.pop("urlopen")
    s3_notifications._get_s3_event = _installed.pop("s3_event")
    custom_model.CustomModel.create_from_cloudformation_json = _installed.pop("custom_from_cfn")  # type: ignore[method-assign]
    cfn_models.Stack.create_resources = _installed.pop("create_resources")  # type: ignore[method-assign]
    moto_settings.moto_server_host = _installed.pop("moto_server_host")
    urllib.request.getproxies_environment = _installed.pop("getproxies_environment")
    urllib.request.getproxies = _installed.pop("getproxies")
    botocore.utils.getproxies = _installed.pop("botocore_getproxies")
    _loaded.clear()
