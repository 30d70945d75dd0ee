"""The ASGI application of ``sourcewise serve`` (FastAPI): endpoints, authentication, retries, limits, logs.

:func:`create_app` builds it from a :class:`ServiceConfig`. The router is
loaded (or recovered from its store) by a thread started at start-up:
``/healthz`` answers at once, ``/readyz`` and every other endpoint only once
the state is loaded (503 before).

Router calls run on the event loop's thread, directly: they take tens to
hundreds of microseconds under the router's one lock, less than a hand-off to
a thread pool costs, and running them there makes each state-changing
request (its retry record, the router call, its answer record) one step that
no other request interleaves with (see :mod:`.idempotency`).

The service owns the process's garbage collection: every open order keeps
objects the cycle collector tracks (its decision and explanation), so a full
collection, which the collector starts each time the old generation grows by
a quarter, scans every open order: 146 ms with about 45,000 of them, on the
event loop, holding every request up. Instead, ten times a second
(:data:`FREEZE_S`), the young generations are collected and what survived is
frozen (``gc.freeze``), so an object is scanned while it is young, and its
memory likely still in cache, and never again once frozen. Freezing once a
second instead let a second of survivors reach the older generation, and
the collections that first scanned them took 15 to 20 ms each, twice a
second at 1,000 requests/s. A reference cycle that becomes garbage after
its freeze is not reclaimed; the service makes none (after a load run, and
after 3,000 requests each on a new connection, answered 200, 400, 401, 404
and 422, unfreezing and collecting everything found no garbage).

Every answer is JSON; an error is ``{"error", "problems": [{"field",
"reason"}], "request_id"}`` (commercetools' endpoint answers bad input in
commercetools' own failure shape). Nothing is ever answered with a traceback:
an unexpected exception is logged with its request id and answered 500.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import msgspec
from fastapi import FastAPI
from fastapi import Query
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from sourcewise import __version__
from sourcewise.engine.adapters.reader import AdapterError
from sourcewise.engine.ledger import StoreError
from sourcewise.engine.ledger import open_store
from sourcewise.engine.ledger import parse_url
from sourcewise.engine.service import openapi as oa
from sourcewise.engine.service.auth import Secrets
from sourcewise.engine.service.auth import bearer_ok
from sourcewise.engine.service.auth import header_ok
from sourcewise.engine.service.auth import shopify_ok
from sourcewise.engine.service.idempotency import DONE
from sourcewise.engine.service.idempotency import RequestStore
from sourcewise.engine.service.idempotency import fingerprint
from sourcewise.engine.service.idempotency import open_requests
from sourcewise.engine.service.metrics import CONTENT_TYPE
from sourcewise.engine.service.metrics import Metrics
from sourcewise.engine.service.metrics import TimedStore
from sourcewise.engine.service.operations import Operations
from sourcewise.engine.service.operations import ServiceError
from sourcewise.engine.service.operations import decode
from sourcewise.engine.service.platforms import ct_errors

__all__ = ["ServiceConfig", "create_app", "load_router", "log_config"]

log = logging.getLogger("sourcewise.service")

#: Calls not safe to repeat: their retry after a crash is settled from the ledger (see .idempotency).
UNREPEATABLE = frozenset({"release", "commit", "reroute", "adjust"})
#: A pending record of another process younger than this is a request still running (shared ledger).
PENDING_STALE_S = 30.0
#: Seconds between two passes that collect the young generations and freeze what survived (see the
#: module docstring).
FREEZE_S = 0.1
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@dataclass
class ServiceConfig:
    """What ``sourcewise serve`` starts with.

    Parameters
    ----------
    store : str
        The ledger's URL (``sqlite:///...`` or ``postgresql://...``). When it
        holds a ledger, the state is recovered from it and ``scenario`` is
        not read; otherwise a new ledger starts from ``scenario``.
    scenario : str, optional
        A scenario folder (network, stock, policy; its orders are not routed).
    max_body : int
        Bodies larger than this many bytes get a 413.
    secrets : Secrets
        Tokens and signing secrets (default: from the environment).
    """

    store: str
    scenario: str | None = None
    max_body: int = 1 << 20
    secrets: Secrets = field(default_factory=Secrets.from_env)


def load_router(config: ServiceConfig, metrics: Metrics):
    """The router of a config: recovered from its store, or new on it from the scenario.

    Raises
    ------
    StoreError
        When the store cannot be opened, or is empty and no scenario is given.
    ValidationError
        For an invalid scenario.
    """
    from sourcewise.engine.router import Router
    from sourcewise.engine.scenario import build_router
    from sourcewise.engine.scenario import load_scenario
    from sourcewise.engine.warm import warm_up

    warm_up()
    store = TimedStore(open_store(config.store), metrics.store_writes)
    try:
        if store.setup() is not None:
            return Router.recover(store)
        if config.scenario is None:
            raise StoreError(f"{config.store} holds no ledger yet: give --scenario to start one")
        return build_router(load_scenario(config.scenario, orders=False), store=store)
    except BaseException:
        if store._inner is not None:
            store.close()
        raise


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(msgspec.json.encode(obj), status, headers, media_type="application/json")


def _error(exc: ServiceError, request_id: str | None) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return _json({"error": exc.message, "problems": exc.problems, "request_id": request_id or ""},
                 exc.status, headers)


def _rid(scope: dict[str, Any]) -> str | None:
    return scope.get("state", {}).get("request_id")


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's extra fields."""

    FIELDS = ("request_id", "method", "path", "status", "duration_ms", "client")

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": round(record.created, 6), "level": record.levelname.lower(),
                               "logger": record.name, "msg": record.getMessage()}
        for k in self.FIELDS:
            v = record.__dict__.get(k)
            if v is not None:
                out[k] = v
        if record.exc_info:
            out["exc"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(out, default=str)


def log_config(level: str = "info") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` that writes the service's and uvicorn's logs as JSON lines to stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    lv = level.upper()
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonLogFormatter"}},
        "handlers": {"json": handler},
        "loggers": {"sourcewise": {"handlers": ["json"], "level": lv, "propagate": False},
                    "uvicorn": {"handlers": ["json"], "level": lv, "propagate": False},
                    "uvicorn.error": {"level": lv}},
    }


class Observe:
    """ASGI middleware: a request id, the latency histogram, one JSON log line, and no traceback ever.

    The id is the caller's ``X-Request-Id`` when it is 1 to 64 of
    ``[A-Za-z0-9._:-]``, else a new one; it is echoed in ``X-Request-Id``.
    """

    def __init__(self, app: Callable, metrics: Metrics):
        self.app = app
        self.metrics = metrics
        self._hist: dict[tuple[str, str, str], Any] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = None
        for k, v in scope["headers"]:
            if k == b"x-request-id":
                s = v.decode("latin-1")
                rid = s if _REQUEST_ID.fullmatch(s) else None
                break
        rid = rid or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        t0 = time.perf_counter()
        status = [500, False]
        header = (b"x-request-id", rid.encode())

        async def send_(message):
            if message["type"] == "http.response.start":
                status[0], status[1] = message["status"], True
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_)
        except Exception:
            log.exception("unhandled error", extra={"request_id": rid, "method": scope["method"],
                                                     "path": scope["path"]})
            if not status[1]:
                body = msgspec.json.encode({"error": "internal error; the request id is in the log",
                                            "problems": [], "request_id": rid})
                await send_({"type": "http.response.start", "status": 500,
                             "headers": [(b"content-type", b"application/json"),
                                         (b"content-length", str(len(body)).encode())]})
                await send_({"type": "http.response.body", "body": body})
        dt = time.perf_counter() - t0
        route = scope.get("route")
        key = (scope["method"], getattr(route, "path", "unmatched"), str(status[0]))
        h = self._hist.get(key)
        if h is None:
            h = self._hist[key] = self.metrics.requests.labels(*key)
        h.observe(dt)
        if log.isEnabledFor(logging.INFO):
            log.info("request", extra={"request_id": rid, "method": key[0], "path": scope["path"],
                                       "status": status[0], "duration_ms": round(dt * 1000, 3)})


class HotPath:
    """ASGI middleware: ``POST`` on one path straight to its answer, past FastAPI's routing.

    ``POST /v1/route`` is what an OMS calls for every order. Through the
    framework (exception middleware, matching the path against every route,
    resolving the endpoint's parameters) it cost about 90 us of a request's
    220 in-process, more than routing the order. Here the same answer
    function the declared endpoint calls runs on a plain
    :class:`~starlette.requests.Request`, with the same error answers
    (:class:`ServiceError` as JSON); anything else propagates to
    :class:`Observe`, which answers 500 without a traceback, as for every
    route. The endpoint stays declared on the application, so the OpenAPI
    document, other methods' 405 and the metrics' route label are the
    framework's.
    """

    def __init__(self, app: Callable, path: str, answer: Callable, route: Any):
        self.app = app
        self.path = path
        self.answer = answer
        self.route = route

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            return await self.app(scope, receive, send)
        scope["route"] = self.route  # what the framework's router would record: the metrics' label
        request = Request(scope, receive)
        try:
            response = await self.answer(request)
        except ServiceError as exc:
            response = _error(exc, _rid(scope))
        await response(scope, receive, send)


class Service:
    """The application's state: config, metrics, the loaded operations and the retry records."""

    def __init__(self, config: ServiceConfig):
        self.config = config
        self.secrets = config.secrets
        self.metrics = Metrics()
        self.ops: Operations | None = None
        self.requests: RequestStore | None = None
        self.failed: str | None = None
        self.loaded = threading.Event()
        self.shared = config.store.startswith(("postgresql://", "postgres://"))

    # ------------------------------------------------------------------ life
    def load(self) -> None:
        """Load the router and open the retry records (run in a thread at start-up)."""
        try:
            router = load_router(self.config, self.metrics)
            self.requests = open_requests(self.config.store)
            self.ops = Operations(router, self.metrics)
            # the network, the stock and the recovered orders live as long as the process: out of the
            # cycle collector's way, so its full passes do not scan them between requests
            gc.collect()
            gc.freeze()
            log.info("state loaded", extra={"path": self.config.store})
        except Exception as exc:
            self.failed = f"{type(exc).__name__}: {exc}"
            log.error("cannot load the state: %s", self.failed)
        finally:
            self.loaded.set()

    async def freeze_survivors(self) -> None:
        """Every :data:`FREEZE_S` seconds once loaded, collect the young generations and freeze the survivors
        (run on the event loop)."""
        while True:
            await asyncio.sleep(FREEZE_S)
            if self.ops is not None:
                gc.collect(1)
                gc.freeze()

    def close(self) -> None:
        """Let go of the router's store and the retry records (at shutdown)."""
        self.loaded.wait()
        if self.ops is not None:
            self.ops.router.close()
        if self.requests is not None:
            self.requests.close()

    def ready(self) -> tuple[bool, str]:
        """Whether requests can be served, and why not."""
        if not self.loaded.is_set():
            return False, "loading the state"
        if self.ops is None:
            return False, f"the state could not be loaded: {self.failed}"
        refusal = self.ops.router.ledger_refusal
        if refusal is not None:
            return False, f"the router refuses changes: {refusal}"
        try:
            assert self.requests is not None
            self.requests.ping()
            if not self.shared and not parse_url(self.config.store)[0].exists():
                return False, "the ledger file is gone"
        except Exception as exc:
            return False, f"the store is unreachable: {exc}"
        return True, "ready"

    def need_ops(self) -> Operations:
        if self.ops is None:
            raise ServiceError(503, self.ready()[1])
        return self.ops

    # ------------------------------------------------------------------ requests
    async def body(self, request: Request) -> bytes:
        """The raw body, or a 413 past ``max_body`` bytes (read no further)."""
        limit = self.config.max_body
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise ServiceError(413, f"the body is larger than {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ServiceError(413, f"the body is larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def authorize(self, ok: bool) -> None:
        if not ok:
            raise ServiceError(401, "authentication failed")

    def change(self, request: Request, body: bytes, op: str, run: Callable[[], Any],
               order_id: str | None = None, key: str | None = None) -> Response:
        """Run a state-changing call once per ``Idempotency-Key`` (see :mod:`.idempotency`).

        Synchronous from the retry record's check to the answer's record:
        no other request interleaves with it on the event loop.
        """
        ops = self.need_ops()
        key = key if key is not None else request.headers.get("idempotency-key")
        if key is None:
            return _json(run())
        if not 1 <= len(key) <= 255:
            raise ServiceError(422, "Idempotency-Key must be 1 to 255 characters",
                               [{"field": "Idempotency-Key", "reason": "1 to 255 characters"}])
        store = self.requests
        assert store is not None
        fp = fingerprint(request.method, request.scope["path"], body)
        try:
            rec = store.get(key)
            if rec is not None:
                if rec.fingerprint != fp:
                    raise ServiceError(409, "this Idempotency-Key was used with another request",
                                       [{"field": "Idempotency-Key", "reason": "reused with another request"}])
                if rec.state == DONE:
                    return Response(rec.body, rec.status, {"Idempotent-Replayed": "true"},
                                     media_type="application/json")
                if rec.owner == store.owner or self.shared and time.time() - rec.at < PENDING_STALE_S:
                    raise ServiceError(409, "a request with this Idempotency-Key is in progress; retry later")
                answer = ops.settle(op, rec.seq, order_id, body)
                if answer is not None:
                    out = msgspec.json.encode(answer)
                    store.finish(key, fp, 200, out)
                    return Response(out, 200, {"Idempotent-Replayed": "true"}, media_type="application/json")
                store.forget_pending(rec)
            pending = op in UNREPEATABLE
            if pending and store.begin(key, fp, ops.router.ledger_seq) is not None:
                raise ServiceError(409, "a request with this Idempotency-Key is in progress; retry later")
            try:
                out = msgspec.json.encode(run())
            except BaseException:
                if pending:
                    store.abort(key)
                raise
            store.finish(key, fp, 200, out)
        except ServiceError:
            raise
        except (StoreError, OSError) as exc:
            raise ServiceError(503, f"the request records cannot be written: {exc}") from None
        except Exception as exc:
            if type(exc).__module__.split(".")[0] in ("sqlite3", "psycopg"):
                raise ServiceError(503, f"the request records cannot be written: {exc}") from None
            raise
        return Response(out, 200, media_type="application/json")


def create_app(config: ServiceConfig) -> FastAPI:
    """The FastAPI application for ``config`` (see the module docstring)."""
    svc = Service(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        threading.Thread(target=svc.load, name="sourcewise-load", daemon=True).start()
        freezer = asyncio.create_task(svc.freeze_survivors())
        yield
        freezer.cancel()
        svc.close()

    app = FastAPI(title="Sourcewise", version=__version__, lifespan=lifespan,
                  description="Order routing and inventory sourcing over a durable ledger. "
                              "See README.md, section 'Serving over HTTP'.",
                  docs_url=None, redoc_url=None)
    app.state.service = svc

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError):
        return _error(exc, _rid(request.scope))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        problems = [{"field": ".".join(str(p) for p in e.get("loc", ())[1:]) or "$", "reason": e.get("msg", "")}
                    for e in exc.errors()]
        return _error(ServiceError(422, f"{len(problems)} problem(s) in the request", problems),
                      _rid(request.scope))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return _error(ServiceError(exc.status_code, str(exc.detail)), _rid(request.scope))

    def api(request: Request) -> Operations:
        svc.authorize(bearer_ok(request.headers.get("authorization"), svc.secrets.api))
        return svc.need_ops()

    # ------------------------------------------------------------------ /v1
    def v1(path: str, name: str, ok: str | dict[str, Any], *codes: int, body: tuple[str, ...] = ()):
        extra = oa.body(*body) if body else None
        return app.post(path, name=name, responses=oa.responses(ok, *codes), openapi_extra=extra,
                        tags=["v1"], response_class=Response)

    async def route_answer(request: Request) -> Response:
        ops = api(request)
        body = await svc.body(request)
        return svc.change(request, body, "route", lambda: ops.route(body))

    @v1("/v1/route", "route", {"oneOf": [oa.ref("decision"), oa.ref("Decisions")]}, 400, 401, 409, 413, 422, 503, body=("order", "OrderBatch"))
    async def route(request: Request):
        """Route one order (its decision) or a list of orders (``{"orders": [...]}`` or an array: every decision)."""
        # (POST requests reach route_answer through HotPath; this declares the endpoint and its OpenAPI entry)
        return await route_answer(request)

    @v1("/v1/promise", "promise", "Promise", 400, 401, 409, 413, 422, 503, body=("order",))
    async def promise(request: Request):
        """What routing the order would decide now, the pickup stores and same-day option; reserves nothing."""
        ops = api(request)
        body = await svc.body(request)
        return _json(ops.promise(body))

    @v1("/v1/holds", "hold", "Held", 400, 401, 409, 413, 422, 503, body=("HoldRequest",))
    async def hold(request: Request):
        """Reserve an order's stock for ``ttl_s`` seconds; it comes back by itself unless committed first."""
        ops = api(request)
        body = await svc.body(request)
        return svc.change(request, body, "hold", lambda: ops.hold(body))

    @v1("/v1/orders/{order_id}/release", "release", "OrderAnswer", 401, 404, 409, 413, 422, 503)
    async def release(order_id: str, request: Request):
        """Release an open order: its stock and capacity come back."""
        ops = api(request)
        body = await svc.body(request)
        return svc.change(request, body, "release", lambda: ops.release(order_id), order_id)

    @v1("/v1/orders/{order_id}/commit", "commit", "OrderAnswer", 401, 404, 409, 413, 422, 503)
    async def commit(order_id: str, request: Request):
        """Commit an open order (shipped): its reserved units leave on-hand."""
        ops = api(request)
        body = await svc.body(request)
        return svc.change(request, body, "commit", lambda: ops.commit(order_id), order_id)

    @v1("/v1/orders/{order_id}/reroute", "reroute", "OrderAnswer", 400, 401, 404, 409, 413, 422, 503,
        body=("RerouteRequest",))
    async def reroute(order_id: str, request: Request):
        """Re-source what a node could not pick, keeping the rest of the order where it is."""
        ops = api(request)
        body = await svc.body(request)
        return svc.change(request, body, "reroute", lambda: ops.reroute(order_id, body), order_id)

    @v1("/v1/stock/adjustments", "adjust_stock", "AdjustmentsAnswer", 400, 401, 409, 413, 422, 503,
        body=("Adjustments",))
    async def adjust(request: Request):
        """Receipts, walk-in sales, shrink and counts, all or none."""
        ops = api(request)
        body = await svc.body(request)
        return svc.change(request, body, "adjust", lambda: ops.adjust(body))

    @app.get("/v1/stock", name="stock", responses=oa.responses("Stock", 401, 422, 503), tags=["v1"],
             response_class=Response)
    async def stock(request: Request, node_id: str | None = Query(None, min_length=1),
                    sku: str | None = Query(None, min_length=1)):
        """Stock of a node, a SKU, or one pair: on hand, reserved, safety stock and ATP."""
        return _json(api(request).stock(node_id, sku))

    @app.get("/v1/prices", name="prices", responses=oa.responses("Prices", 401, 503), tags=["v1"],
             response_class=Response)
    async def prices(request: Request):
        """The dual prices routing uses under the ``dual`` strategy: every entry priced above 0."""
        return _json(api(request).prices())

    @app.put("/v1/prices", name="set_prices", responses=oa.responses("Prices", 400, 401, 409, 413, 422, 503),
             openapi_extra=oa.body("PricesRequest"), tags=["v1"], response_class=Response)
    async def set_prices(request: Request):
        """Replace the dual prices: a table of prices, or those ``dual_prices`` computes over a forecast.

        The prices are recorded in the ledger: they survive a restart and
        reach every process sharing it. The forecast's LP runs off the event
        loop (it takes up to ``time_limit`` seconds); setting the prices is one
        step like every other change.
        """
        ops = api(request)
        body = await svc.body(request)
        source, value, limit = ops.prices_request(body)
        if source == "forecast":
            value = await run_in_threadpool(ops.forecast_prices, value, limit)
        return svc.change(request, body, "prices", lambda: ops.set_prices(value, source))

    @app.get("/v1/orders/{order_id}", name="order", responses=oa.responses("OrderView", 401, 404, 503),
             tags=["v1"], response_class=Response)
    async def order(order_id: str, request: Request):
        """An order's state, its decision and its history in the ledger."""
        return _json(api(request).order(order_id))

    # ------------------------------------------------------------------ platforms
    @app.post("/webhooks/shopify/orders-create", name="shopify_orders_create", tags=["platforms"],
              responses=oa.responses("ShopifyMoves", 400, 401, 409, 413, 422, 503),
              openapi_extra=oa.body("ShopifyOrder"), response_class=Response)
    async def shopify(request: Request):
        """Shopify's ``orders/create`` webhook, signed with ``X-Shopify-Hmac-Sha256``: the fulfillment-order moves.

        A retry (the same ``X-Shopify-Webhook-Id``, or ``Idempotency-Key``) answers as the first delivery did.
        """
        body = await svc.body(request)
        svc.authorize(shopify_ok(body, request.headers.get("x-shopify-hmac-sha256"), svc.secrets.shopify))
        ops = svc.need_ops()
        webhook = request.headers.get("x-shopify-webhook-id")
        return svc.change(request, body, "route",
                          lambda: ops.platform_route("shopify", ops.platforms.shopify_order(decode(body))),
                          key=f"shopify:{webhook}" if webhook else None)

    @app.post("/extensions/commercetools", name="commercetools_extension", tags=["platforms"],
              responses={**oa.responses("CommercetoolsActions", 401, 409, 413, 503),
                         400: {"description": "Invalid input, in commercetools' failure shape",
                               "content": {"application/json": {"schema": oa.ref("CommercetoolsErrors")}}}},
              openapi_extra=oa.body("CommercetoolsInput"), response_class=Response)
    async def commercetools(request: Request):
        """commercetools API Extension for order creation: ``addDelivery`` update actions out."""
        svc.authorize(header_ok(request.headers.get("authorization"), svc.secrets.commercetools))
        body = await svc.body(request)
        ops = svc.need_ops()

        def run() -> dict[str, Any]:
            order, wanted = ops.platforms.commercetools_order(decode(body))
            if not wanted:
                return {"actions": []}
            # unwrapped: an AdapterError is answered below in commercetools' own failure shape
            answer = ops.platform_answer("commercetools", ops.platforms.parse("commercetools", order))
            return {"actions": answer["orderUpdate"]["actions"]}

        try:
            return svc.change(request, body, "route", run)
        except AdapterError as exc:
            return _json(ct_errors(exc), 400)
        except ServiceError as exc:
            if exc.status in (400, 422):
                return _json({"errors": [{"code": "InvalidInput", "message": f"{p['field']}: {p['reason']}"}
                                         for p in exc.problems] or [{"code": "InvalidInput",
                                                                     "message": exc.message}]}, 400)
            raise

    @app.post("/magento/source-selection", name="magento_source_selection", tags=["platforms"],
              responses=oa.responses("MagentoResult", 400, 401, 409, 413, 422, 503),
              openapi_extra=oa.body("MagentoRequest"), response_class=Response)
    async def magento(request: Request):
        """Magento MSI source selection: the source-selection result for the request's items."""
        svc.authorize(bearer_ok(request.headers.get("authorization"), svc.secrets.magento))
        body = await svc.body(request)
        ops = svc.need_ops()
        return svc.change(request, body, "route", lambda: ops.platform_route("magento", decode(body)))

    # ------------------------------------------------------------------ operations
    @app.get("/healthz", name="healthz", tags=["operations"], responses=oa.responses("Health"),
             response_class=Response)
    async def healthz():
        """Liveness: the process answers."""
        return _json({"status": "alive"})

    @app.get("/readyz", name="readyz", tags=["operations"], responses=oa.responses("Health", 503),
             response_class=Response)
    async def readyz():
        """Readiness: the state is loaded, the router takes changes, the store is reachable."""
        ok, why = svc.ready()
        if not ok:
            return _json({"error": why, "problems": [], "request_id": ""}, 503)
        return _json({"status": why, "ledger_seq": svc.ops.router.ledger_seq if svc.ops else 0})

    @app.get("/metrics", name="metrics", tags=["operations"], response_class=Response,
             responses=oa.responses({"type": "string"}, ok_media=CONTENT_TYPE))
    async def metrics():
        """Prometheus text: request and routing latency, decisions by status, the oversell guard, ledger writes."""
        return Response(svc.metrics.exposition(), media_type=CONTENT_TYPE)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            doc = get_openapi(title=app.title, version=app.version, description=app.description,
                              routes=app.routes)
            doc.setdefault("components", {}).setdefault("schemas", {}).update(oa.SCHEMAS)
            for item in doc["paths"].values():
                for op in item.values():
                    # FastAPI's own 422 (its validation error shape) where ours is not declared
                    if "HTTPValidationError" in json.dumps(op.get("responses", {}).get("422", {})):
                        op["responses"]["422"] = oa.responses("Error", 422)[422]
            for name in ("HTTPValidationError", "ValidationError"):
                doc["components"]["schemas"].pop(name, None)
            doc["components"]["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "description": "SOURCEWISE_TOKEN (/v1)"},
                "magento": {"type": "http", "scheme": "bearer", "description": "SOURCEWISE_MAGENTO_TOKEN"},
                "commercetools": {"type": "apiKey", "in": "header", "name": "Authorization",
                                  "description": "SOURCEWISE_CT_AUTH: the whole header value"},
                "shopify": {"type": "apiKey", "in": "header", "name": "X-Shopify-Hmac-Sha256",
                            "description": "base64 HMAC-SHA256 of the raw body with SOURCEWISE_SHOPIFY_SECRET"},
            }
            for p, item in doc["paths"].items():
                scheme = ("bearer" if p.startswith("/v1/") else "magento" if p.startswith("/magento")
                          else "commercetools" if p.startswith("/extensions") else
                          "shopify" if p.startswith("/webhooks") else None)
                for op in item.values():
                    if scheme is not None:
                        op["security"] = [{scheme: []}]
                    if op.get("requestBody") and p != "/v1/promise" and scheme not in (None, "commercetools"):
                        op.setdefault("parameters", []).append(
                            {"name": "Idempotency-Key", "in": "header", "required": False,
                             "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                             "description": "A retry with the same key and body answers as the first request"})
            if svc.ops is None:
                return doc  # examples come with the state: keep asking until it is loaded
            for p, example in oa.examples(svc.ops.router.network, svc.ops.router.inventory).items():
                for op in doc["paths"][p].values():
                    if "requestBody" in op:  # GET /v1/prices shares its path with the PUT
                        op["requestBody"]["content"]["application/json"]["example"] = example
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    declared = next(r for r in app.routes if getattr(r, "path", None) == "/v1/route")
    app.add_middleware(HotPath, path="/v1/route", answer=route_answer, route=declared)
    app.add_middleware(Observe, metrics=svc.metrics)  # added last: outermost, so it also sees HotPath's answers
    return app
