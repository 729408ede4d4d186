"""The inference ASGI app: KServe V2, TF-Serving and MLflow endpoints on one port, plus health,
``/metrics`` and ``/feedback``. Built by :func:`create_app`; models load at lifespan startup.

Routing is a few dictionary and regex lookups rather than a framework router: every request
pays for it, and there are only a dozen routes.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from loopline.core.errors import Conflict, InvalidInput, LooplineError, NotFound
from loopline.rollout.policy import PIN_HEADER
from loopline.serving._http import HttpProblem, Receive, Scope, Send, header, read_body, send_bytes
from loopline.serving.batching import Batcher, Overloaded
from loopline.serving.feedback import REQUEST_ID, label_count_warnings, parse_feedback
from loopline.serving.inference_log import InferenceLog, default_log_root, write_feedback
from loopline.serving.metrics import CONTENT_TYPE, ServingMetrics, forget_dead_workers
from loopline.serving.model import ServedModel
from loopline.serving.protocols import Decoded, mlflow, tfserving, v2
from loopline.serving.protocols._json import dumps
from loopline.serving.repository import ModelRepository
from loopline.serving.settings import ServeSettings

if TYPE_CHECKING:
    from loopline.rollout.policy import Fault, TrafficPolicy
    from loopline.serving.deployment import DeploymentFollower

__all__ = ["InferenceApp", "create_app"]

log = logging.getLogger(__name__)

_V2_MODEL = re.compile(
    r"^/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?(?P<verb>/ready|/infer)?$"
)
_TF_MODEL = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+))?(?P<verb>:predict)?$"
)
# Request ids: a random per-process prefix and a counter, unique without uuid4's cost per request.
_ID_PREFIX = os.urandom(8).hex() + "-"
_id_counter = itertools.count(1)
UNKNOWN_MODEL = "(unknown)"  # the metric label of requests naming no served model
_REQUEST_ID = REQUEST_ID
_JSON = b"application/json"
# MLflow's error codes (databricks_pb2.ErrorCode) by HTTP status, as its scoring server uses them.
_MLFLOW_CODES = {
    400: "BAD_REQUEST",
    404: "RESOURCE_DOES_NOT_EXIST",
    409: "INVALID_STATE",
    413: "RESOURCE_EXHAUSTED",
    415: "BAD_REQUEST",
    499: "CANCELLED",
    503: "TEMPORARILY_UNAVAILABLE",
}
Decoder = Callable[[bytes, str, ServedModel], Decoded]
Encoder = Callable[[ServedModel, str, Decoded, dict[str, Any]], bytes]


def create_app(settings: ServeSettings, metrics: ServingMetrics | None = None) -> InferenceApp:
    """The inference app for ``settings``; nothing is loaded until the ASGI lifespan starts."""
    return InferenceApp(settings, metrics or ServingMetrics(variants=bool(settings.deployment)))


class InferenceApp:
    def __init__(self, settings: ServeSettings, metrics: ServingMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.log_root = Path(settings.log_dir) if settings.log_dir else default_log_root()
        self.inference_log = InferenceLog(
            self.log_root, settings.log_sample_rate, on_drop=metrics.inference_log_dropped.inc
        )
        self.repository = ModelRepository(settings, self._make_batcher, metrics.observe_load)
        self.arriving = 0  # inference requests read but not yet queued: batching waits for them
        # Serving a deployment: the policy that routes its requests between variants.
        self.follower: DeploymentFollower | None = None
        self._shadow_tasks: set[asyncio.Task[None]] = set()
        self._version = _loopline_version()

    # -- ASGI -------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except LooplineError as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.get_running_loop().run_in_executor(None, self.shutdown)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        loop = asyncio.get_running_loop()
        forget_dead_workers()
        if self.settings.deployment:
            self.follower = await loop.run_in_executor(None, self._follow_deployment)
        await loop.run_in_executor(None, self.repository.load_all)

        def retire(batcher: Batcher) -> None:
            loop.call_soon_threadsafe(batcher.retire)

        self.repository.start_polling(retire)
        if self.follower is not None:
            self.follower.start(self.repository.add, self.repository.remove)
        self.inference_log.start()

    def _follow_deployment(self) -> DeploymentFollower:
        from loopline.serving.deployment import DeploymentFollower, load_deployment

        assert self.settings.deployment is not None
        deployments = load_deployment(self.settings.deployment, self.settings.tracking_uri)
        return DeploymentFollower(
            self.settings.deployment, deployments,
            poll_interval_s=min(1.0, self.settings.poll_interval_s),
        )  # fmt: skip

    def _model_key(self, scope: Scope, name: str, version: str | None) -> str:
        """The repository name behind a URL's model name: a deployment's primary variant, or
        the variant that serves the version the URL names."""
        follower = self.follower
        if follower is None or name != follower.name:
            return name
        policy = follower.policy
        if version is None:
            return follower.key(policy.primary)
        headers = _headers(scope)
        return follower.key(
            self._variant_serving(follower, policy, headers, policy.primary, version)
        )

    def shutdown(self) -> None:
        if self.follower is not None:
            self.follower.stop()
        self.repository.stop()
        self.inference_log.close()

    # -- routing ----------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith("/v2/models/"):
            match = _V2_MODEL.match(path)
            if match:
                await self._v2_model(scope, receive, send, method, match)
                return
        elif path.startswith("/v1/models/"):
            match = _TF_MODEL.match(path)
            if match:
                await self._tf_model(scope, receive, send, method, match)
                return
        else:
            route = self._routes.get(path)
            if route is not None:
                allowed, handler = route
                if method not in allowed:
                    await _method_not_allowed(send, allowed)
                    return
                await handler(self, scope, receive, send)
                return
        await _send_json(send, 404, {"error": f"no endpoint at {path}"})

    async def _v2_model(
        self, scope: Scope, receive: Receive, send: Send, method: str, match: re.Match[str]
    ) -> None:
        name, version, verb = match["name"], match["version"], match["verb"]
        if verb == "/infer":
            if method != "POST":
                await _method_not_allowed(send, ("POST",))
                return
            await self._infer(scope, receive, send, "v2", name, version, _v2_decode, _v2_encode)
            return
        if method != "GET":
            await _method_not_allowed(send, ("GET",))
            return
        try:
            key = self._model_key(scope, name, version)
            batcher = self.repository.get(key, version)
        except NotFound as exc:
            await _send_json(send, 404, {"error": _message(exc)})
            return
        served = self.repository.served(key)
        if verb == "/ready":
            body = {"name": name, "ready": True}
            if served.errors:
                body["reload_errors"] = served.errors
            await _send_json(send, 200, body)
            return
        follower = self.follower
        if follower is not None and name == follower.name:
            versions = self._deployment_versions(follower)  # every variant's versions
        else:
            versions = served.sorted_versions()
        await _send_json(send, 200, v2.model_metadata(batcher.model, versions))

    async def _tf_model(
        self, scope: Scope, receive: Receive, send: Send, method: str, match: re.Match[str]
    ) -> None:
        name, version = match["name"], match["version"]
        if match["verb"]:
            if method != "POST":
                await _method_not_allowed(send, ("POST",))
                return
            await self._infer(
                scope, receive, send, "tfserving", name, version, _tf_decode, _tf_encode
            )
            return
        if method != "GET":
            await _method_not_allowed(send, ("GET",))
            return
        try:
            key = self._model_key(scope, name, version)
            self.repository.get(key, version)
        except NotFound as exc:
            await _send_json(send, 404, {"error": _message(exc)})
            return
        served = self.repository.served(key)
        follower = self.follower
        if version:
            versions = [version]
        elif follower is not None and name == follower.name:
            versions = self._deployment_versions(follower)
        else:
            versions = served.sorted_versions()
        errors = {} if version else {v: e for v, e in served.errors.items() if v != "*"}
        await _send_json(send, 200, tfserving.model_status(versions, errors))

    # -- inference --------------------------------------------------------------------------

    async def _infer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        protocol: str,
        name: str,
        version: str | None,
        decode: Decoder,
        encode: Encoder,
    ) -> None:
        started = time.perf_counter()
        self.arriving += 1
        self.metrics.request_started()
        queued = False
        request_id = _request_id(scope)
        status, model_version = 200, ""  # from the model served, never from the URL
        variant, shadow, served_name = "", None, name
        follower = self.follower
        try:
            content_type = _content_type(scope, protocol)
            body = await read_body(scope, receive, self.settings.max_body_bytes)
            if follower is not None and name == follower.name:
                variant, shadow, served_name, fault = self._route(scope, follower, version)
                if fault is not None:
                    await self._inject(fault, variant)
            batcher = self.repository.get(served_name, version)
            model = batcher.model
            model_version = model.version
            decoded = _decoded(decode, body, content_type, model)
            body_id = decoded.request_id
            if body_id and _REQUEST_ID.match(body_id) and not header(scope, b"x-request-id"):
                request_id = body_id  # only a header-safe id travels into x-request-id
            self.arriving -= 1
            queued = True
            prediction = await batcher.predict(decoded.values, frozenset(decoded.wanted))
            payload = encode(model, request_id, decoded, prediction.outputs)
        except Exception as exc:
            status, payload, extra = _error(exc, protocol)
            await send_bytes(
                send, status, payload, _JSON,
                [(b"x-request-id", request_id.encode()), *_variant_headers(variant, model_version),
                 *extra],
            )  # fmt: skip
        else:
            await send_bytes(
                send, 200, payload, _JSON,
                [(b"x-request-id", request_id.encode()), *_variant_headers(variant, model_version)],
            )  # fmt: skip
            self.metrics.observe_queue_wait(name, model_version, prediction.queue_wait_s, variant)
            # A shadowed request is always logged with its copy, so the two answers pair up.
            sampled = True if shadow else self.inference_log.sample(request_id)
            self.inference_log.offer(
                request_id,
                name,
                model_version,
                model.schema.names,
                decoded.values,
                prediction.outputs,
                variant=variant,
                sampled=sampled,
            )
            if shadow is not None and follower is not None:
                self._start_shadow(follower, shadow, batcher, name, request_id, protocol, decoded)
        finally:
            if not queued:
                self.arriving -= 1
            self.metrics.request_finished()
        if model_version or self.repository.serves(served_name):
            self.metrics.observe_request(
                name, model_version, protocol, status, time.perf_counter() - started, variant
            )
        else:  # an invented model name must not create a new time series
            self.metrics.observe_rejected(UNKNOWN_MODEL, protocol, status)

    def _route(
        self, scope: Scope, follower: DeploymentFollower, version: str | None = None
    ) -> tuple[str, str | None, str, Fault | None]:
        """Pick the variant by the deployment's policy (and whether to shadow the request); a
        URL naming a version goes to the variant that serves it."""
        policy = follower.policy  # one read: the poller may swap it meanwhile
        headers = _headers(scope)
        cookies = _cookies(headers) if policy.sticky_cookie else None
        variant = policy.choose(headers, cookies=cookies)
        if version is not None:
            variant = self._variant_serving(follower, policy, headers, variant, version)
        shadow = policy.shadow.variant if policy.shadows() and policy.shadow else None
        if shadow == variant:
            shadow = None
        return variant, shadow, follower.key(variant), policy.faults.get(variant)

    def _variant_serving(
        self,
        follower: DeploymentFollower,
        policy: TrafficPolicy,
        headers: dict[str, str],
        chosen: str,
        version: str,
    ) -> str:
        """The variant that serves ``version``: the pinned one (which must serve it), the one
        that does, or (when several do) the policy's choice among them."""
        holders = [v for v in policy.weights if self._serves_version(follower.key(v), version)]
        pinned = headers.get(PIN_HEADER)
        if pinned is not None and pinned in policy.weights:
            if pinned not in holders:
                raise NotFound(
                    f"variant {pinned!r} of deployment {follower.name!r} does not serve "
                    f"version {version!r}",
                    hint=_holders_hint(holders, version),
                )
            return pinned
        if not holders:
            raise NotFound(
                f"deployment {follower.name!r} has no version {version!r} loaded",
                hint=f"loaded versions: {', '.join(self._deployment_versions(follower)) or 'none'}",
            )
        return chosen if chosen in holders else holders[0]

    def _serves_version(self, key: str, version: str) -> bool:
        return self.repository.serves(key) and version in self.repository.served(key).versions

    def _deployment_versions(self, follower: DeploymentFollower) -> list[str]:
        """Every version any variant of the deployment serves."""
        found: set[str] = set()
        for variant in follower.policy.weights:
            key = follower.key(variant)
            if self.repository.serves(key):
                found.update(self.repository.served(key).versions)
        return sorted(found, key=lambda v: (len(v), v))

    @staticmethod
    async def _inject(fault: Fault, variant: str) -> None:
        """Istio-style faults, to rehearse a rollback: a delay, an abort, or both."""
        if fault.delay_seconds and random.random() * 100 < fault.delay_percent:
            await asyncio.sleep(fault.delay_seconds)
        if fault.abort_status and random.random() * 100 < fault.abort_percent:
            raise HttpProblem(fault.abort_status, f"fault injected for variant {variant!r} (abort)")

    def _start_shadow(
        self,
        follower: DeploymentFollower,
        variant: str,
        primary: Batcher,
        name: str,
        request_id: str,
        protocol: str,
        decoded: Decoded,
    ) -> None:
        """Shadow copies are best effort: one is dropped (and counted) when the server has
        queued work, so that shadowing never delays the answers clients wait for."""
        try:
            shadow_batcher = self.repository.get(follower.key(variant))
        except NotFound:
            self.metrics.shadow_dropped.inc()
            return
        if self.arriving or primary.queued_rows or shadow_batcher.queued_rows:
            self.metrics.shadow_dropped.inc()
            return
        task = asyncio.ensure_future(
            self._shadow(follower, variant, name, request_id, protocol, primary.model, decoded)
        )
        self._shadow_tasks.add(task)
        task.add_done_callback(self._shadow_tasks.discard)

    async def _shadow(
        self,
        follower: DeploymentFollower,
        variant: str,
        name: str,
        request_id: str,
        protocol: str,
        primary: ServedModel,
        decoded: Decoded,
    ) -> None:
        """Answer a copy on the shadow variant: measured and logged, never returned."""
        started = time.perf_counter()
        status, version = 200, ""
        try:
            batcher = self.repository.get(follower.key(variant))
            version = batcher.model.version
            prediction = await batcher.predict(
                decoded.values, frozenset(decoded.wanted), shadow=True
            )
        except Exception as exc:  # a failing shadow only shows in its own metrics
            status = _error(exc, protocol)[0]
        else:
            self.inference_log.offer(
                request_id, name, version, primary.schema.names, decoded.values,
                prediction.outputs, variant=variant, shadow=True, sampled=True,
            )  # fmt: skip
        self.metrics.observe_request(
            name, version, "shadow", status, time.perf_counter() - started, variant
        )

    def _make_batcher(self, model: ServedModel) -> Batcher:
        return Batcher(
            model,
            max_batch_size=self.settings.max_batch_size,
            max_delay_s=self.settings.max_batch_delay_ms / 1000.0,
            max_queue_rows=self.settings.max_queue_rows,
            arriving=lambda: self.arriving,
            on_batch=self.metrics.observe_batch,
        )

    # -- small endpoints --------------------------------------------------------------------

    async def _live(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _send_json(send, 200, {"live": True})

    async def _ready(self, scope: Scope, receive: Receive, send: Send) -> None:
        ready = self.repository.ready
        await _send_json(send, 200 if ready else 503, {"ready": ready})

    async def _server_metadata(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {"name": "loopline", "version": self._version, "extensions": []}
        await _send_json(send, 200, body)

    async def _ping(self, scope: Scope, receive: Receive, send: Send) -> None:
        ready = self.repository.ready
        await send_bytes(send, 200 if ready else 503, b"\n", b"text/plain")

    async def _version_text(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_bytes(send, 200, self._version.encode(), b"text/plain")

    async def _metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        self.metrics.flush()  # tallied requests first (on the event loop, where they are kept)
        await loop.run_in_executor(None, forget_dead_workers)  # no phantom in-flight requests
        body = await loop.run_in_executor(None, self.metrics.exposition)
        await send_bytes(send, 200, body, CONTENT_TYPE.encode())

    async def _invocations(self, scope: Scope, receive: Receive, send: Send) -> None:
        # MLflow's server holds one model: the deployment, else the first model
        name = self.settings.deployment or self.settings.models[0].name
        await self._infer(
            scope, receive, send, "mlflow", name, None, _mlflow_decode, _mlflow_encode
        )

    async def _feedback(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            _content_type(scope, "v2")
            body = await read_body(scope, receive, self.settings.max_body_bytes)
            entries = parse_feedback(body)
            loop = asyncio.get_running_loop()
            warnings = await loop.run_in_executor(
                None, label_count_warnings, self.log_root, entries
            )
            await loop.run_in_executor(None, write_feedback, self.log_root, entries)
        except Exception as exc:
            status, payload, extra = _error(exc, "v2")
            await send_bytes(send, status, payload, _JSON, extra)
            return
        rows = sum(len(e.labels) for e in entries)
        answer: dict[str, Any] = {"recorded": len(entries), "labels": rows}
        if warnings:
            answer["warnings"] = warnings
        await _send_json(send, 200, answer)

    _routes: ClassVar[dict[str, tuple[tuple[str, ...], Callable[..., Awaitable[None]]]]] = {
        "/v2/health/live": (("GET",), _live),
        "/v2/health/ready": (("GET",), _ready),
        "/v2": (("GET",), _server_metadata),
        "/invocations": (("POST",), _invocations),
        "/ping": (("GET",), _ping),
        "/health": (("GET",), _ping),
        "/version": (("GET",), _version_text),
        "/metrics": (("GET",), _metrics),
        "/feedback": (("POST",), _feedback),
    }


# -- protocol adapters -------------------------------------------------------------------------


def _v2_decode(body: bytes, content_type: str, model: ServedModel) -> Decoded:
    return v2.decode_infer(body, model)


def _v2_encode(model: ServedModel, request_id: str, decoded: Decoded, out: dict[str, Any]) -> bytes:
    # The V2 response echoes the body's id as given (JSON-safe); the header holds request_id.
    return v2.encode_infer(model, decoded.request_id or request_id, out, decoded.wanted)


def _tf_decode(body: bytes, content_type: str, model: ServedModel) -> Decoded:
    return tfserving.decode_predict(body, model)


def _tf_encode(model: ServedModel, request_id: str, decoded: Decoded, out: dict[str, Any]) -> bytes:
    return tfserving.encode_predict(decoded.reply_key, out)


def _mlflow_decode(body: bytes, content_type: str, model: ServedModel) -> Decoded:
    return mlflow.decode_invocations(body, content_type, model)


def _mlflow_encode(
    model: ServedModel, request_id: str, decoded: Decoded, out: dict[str, Any]
) -> bytes:
    return mlflow.encode_invocations(out)


# -- helpers -----------------------------------------------------------------------------------


def _decoded(decode: Decoder, body: bytes, content_type: str, model: ServedModel) -> Decoded:
    """Decode a request; whatever a body can make the decoder raise is the client's mistake."""
    try:
        return decode(body, content_type, model)
    except (ValueError, TypeError, OverflowError, KeyError) as exc:
        raise InvalidInput(
            f"the request body could not be read for model {model.name}: {exc}",
            hint="check the request against the model's metadata (GET /v2/models/NAME)",
        ) from None


def _content_type(scope: Scope, protocol: str) -> str:
    raw = header(scope, b"content-type")
    if raw is None:
        return "application/json"
    kind = raw.split(";", 1)[0].strip().lower()
    accepted = mlflow.CONTENT_TYPES if protocol == "mlflow" else ("application/json",)
    if kind not in accepted:
        raise HttpProblem(
            415, f"content type {kind!r} is not accepted; send {' or '.join(accepted)}"
        )
    return kind


def _headers(scope: Scope) -> dict[str, str]:
    """Request headers by lower-case name (ASGI already lower-cases them)."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def _cookies(headers: dict[str, str]) -> dict[str, str]:
    found = {}
    for part in headers.get("cookie", "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep:
            found[key] = value
    return found


def _holders_hint(holders: list[str], version: str) -> str:
    if not holders:
        return f"no variant serves version {version}"
    return f"version {version} is served by variant {', '.join(holders)}"


def _variant_headers(variant: str, version: str) -> list[tuple[bytes, bytes]]:
    extra = [(b"x-model-version", version.encode())] if version else []
    if variant:
        extra.append((b"x-loopline-variant", variant.encode()))
    return extra


def _request_id(scope: Scope) -> str:
    given = header(scope, b"x-request-id")
    if given and _REQUEST_ID.match(given):
        return given
    return f"{_ID_PREFIX}{next(_id_counter):x}"


def _error(exc: BaseException, protocol: str) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    extra: list[tuple[bytes, bytes]] = []
    if isinstance(exc, HttpProblem):
        status, message = exc.status, exc.message
    elif isinstance(exc, Overloaded):
        status, message = 503, _message(exc)
        extra.append((b"retry-after", b"1"))
    elif isinstance(exc, InvalidInput):
        status, message = 400, _message(exc)
    elif isinstance(exc, NotFound):
        status, message = 404, _message(exc)
    elif isinstance(exc, Conflict):
        status, message = 409, _message(exc)
    else:
        log.error("inference failed", exc_info=exc)
        status, message = 500, f"the model failed: {type(exc).__name__}: {exc}"
    if protocol == "mlflow":
        code = _MLFLOW_CODES.get(status, "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR")
        return status, dumps({"error_code": code, "message": message}), extra
    return status, dumps({"error": message}), extra


def _message(exc: LooplineError) -> str:
    return f"{exc.message} ({exc.hint})" if exc.hint else exc.message


async def _send_json(send: Send, status: int, body: Any) -> None:
    await send_bytes(send, status, dumps(body))


async def _method_not_allowed(send: Send, allowed: tuple[str, ...]) -> None:
    body = dumps({"error": f"method not allowed; use {', '.join(allowed)}"})
    await send_bytes(send, 405, body, _JSON, [(b"allow", ", ".join(allowed).encode())])


def _loopline_version() -> str:
    from loopline import __version__

    return __version__
