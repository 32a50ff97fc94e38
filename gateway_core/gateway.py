"""The facade: ``Gateway.generate`` / ``stream`` / ``compare``, and the runtime they run on.

A ``Gateway`` builds one ``Runtime`` from ``Settings`` (the provider adapters, or the
in-process emulators they point at, the price table, the token counter, the circuit
breaker, the latency and output-token statistics, the background usage-log writer,
``governance`` over the same database, the routing policy from ``GATEWAY_POLICY_FILE`` or
``GATEWAY_OPA_URL``, and telemetry from the ``OTEL_*`` variables) and hands it to ``pipeline.run`` for every request; nothing below calls back up into it. It is
safe to share between threads; the console and the API keep one per process.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from . import pipeline, readiness, routing_policy
from .breaker import CircuitBreaker
from .config import Settings
from .errors import GatewayError, ValidationError
from .executor import Trail
from .governance import Governance
from .governance.policy import load_policy
from .pricing import PriceTable
from .providers import PROVIDERS
from .readiness import Readiness, Reason
from .redact import protect, scrub
from .runtime import LockedRandom, Route, Runtime
from .stats import LatencyTracker, OutputTokenStats, QualityTracker
from .tasks import TASKS
from .telemetry import Telemetry, request_path
from .tokens import TokenCounter
from .types import GenerateRequest, GenerateResult
from .usage.configure import open_usage_log
from .usage.rows import rejected_row
from .usage.schema import VERDICTS


class GatewayStream:
    """Iterate for text chunks (and ``ToolCallDelta`` pieces when the request has tools and
    the model calls one); afterwards ``result`` holds the ``GenerateResult``.

    ``provider`` and ``model`` name the candidate being streamed from, as soon as its
    call starts (they change if the gateway falls back before the first token);
    ``headers`` holds the limits news (``x-ratelimit-*``, ``x-gateway-budget``) once the
    request is admitted, that is once the first chunk has arrived."""

    def __init__(
        self,
        runtime: Runtime,
        request: GenerateRequest,
        request_id: str,
        trace_headers: Mapping[str, str] | None = None,
        key=None,
        source: str = "python",
    ):
        self._runtime = runtime
        self.request = request
        self.request_id = request_id
        self._trace_headers = trace_headers
        self._key = key
        self._source = source
        self._trail = Trail()
        self.result: GenerateResult | None = None
        self.provider: str | None = None
        self.model: str | None = None
        self._started = False

    @property
    def headers(self) -> Mapping[str, str]:
        return self._trail.headers

    def __iter__(self) -> Iterator[str]:
        if self._started:
            raise RuntimeError("a GatewayStream can be iterated once")
        self._started = True
        self.result = yield from pipeline.run(
            self._runtime,
            self.request,
            self.request_id,
            streaming=True,
            key=self._key,
            source=self._source,
            on_attempt=self._on_attempt,
            trace_headers=self._trace_headers,
            trail=self._trail,
        )

    def _on_attempt(self, candidate) -> None:
        self.provider, self.model = candidate.provider, candidate.model


class Gateway:
    def __init__(
        self,
        settings: Settings,
        *,
        providers: Mapping[str, object] | None = None,
        clock=time.monotonic,
        seed: int | None = None,
        governance: Governance | None = None,
        wall_clock=time.time,
    ):
        """``governance`` defaults to the one ``settings`` describe (the usage database); one
        given (a test's, on its own clock) is closed with the gateway all the same.
        ``wall_clock`` (epoch seconds) is the time of day routing policies see."""
        self.settings = settings
        protect(settings.secrets())
        self.emulators = None
        self._secrets = settings.secrets()
        self.prices = PriceTable.load(settings.prices_file)
        # Read and compiled before anything starts, so a broken policy stops start-up at once.
        self.policy = load_policy(settings.policy) if settings.policy is not None else None
        self.tokens = TokenCounter()
        self.breaker = CircuitBreaker(clock=clock)
        self.latency = LatencyTracker()
        self.output_stats = OutputTokenStats({name: spec.expected_output_tokens for name, spec in TASKS.items()})
        self.usage_log = open_usage_log(settings)
        self._readiness_checks: list[Callable[[], Reason | None]] = []
        self.governance = governance if governance is not None else Governance.from_settings(settings)
        self.add_readiness_check(lambda: readiness.governance_reason(self.governance.healthy()))
        # Built in the process that serves (each API worker builds its own gateway after the fork).
        self.telemetry = Telemetry.from_env(settings.otel_env, store_content=settings.store_content, secrets=self._secrets)
        built = dict(providers) if providers is not None else self._build_providers()
        self.runtime = Runtime(
            providers=built,
            routes=self._routes(built),
            prices=self.prices,
            tokens=self.tokens,
            breaker=self.breaker,
            latency=self.latency,
            output_stats=self.output_stats,
            usage_log=self.usage_log,
            governance=self.governance,
            scrub=self.scrub,
            store_content=settings.store_content,
            rng=LockedRandom(seed),
            quality=QualityTracker(self.usage_log.vote_tallies, settings.quality_floor, settings.quality_min_votes),
            telemetry=self.telemetry,
            policy=self.policy,
            wall_clock=wall_clock,
        )
        self.telemetry.register_gauges(
            breaker_fn=lambda: request_path.breaker_rows(self.runtime),
            budget_fn=lambda: request_path.budget_rows(self.budget_statuses()),
        )
        self._seed_from_log()
        # Load encodings now so the first request doesn't pay the ~0.2-0.8 s load.
        self.tokens.warm(r.priced_as for r in self.runtime.routes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, dotenv_path: str | None = ".env", **kw) -> Gateway:
        return cls(Settings.from_env(env, dotenv_path), **kw)

    # --- construction ----------------------------------------------------------------

    def _build_providers(self) -> dict:
        """One adapter per enabled provider: against its loopback emulator when emulated."""
        s = self.settings
        emulated = s.emulated_providers()
        if emulated:
            from .emulators import start_emulators

            # Providers sharing an emulator (same wire format) share its model table.
            tables: dict[str, dict | None] = {}
            for name in emulated:
                cls = PROVIDERS[name]
                models = cls.emulated_models(s.provider(name))
                if models is None:
                    tables.setdefault(cls.emulator, None)
                else:
                    tables[cls.emulator] = {**(tables.get(cls.emulator) or {}), **models}
            self.emulators = start_emulators(profile=s.emulator_profile, models=tables)
        built = {}
        for name in s.enabled_providers():
            cls = PROVIDERS[name]
            if name in emulated:
                built[name] = cls.for_emulator(s, self.emulators.get(cls.emulator).url)
            else:
                built[name] = cls.from_settings(s)
        return built

    def _seed_from_log(self) -> None:
        """Warm the router's statistics from recent history, so a restart routes as before."""
        try:
            rows = self.usage_log.recent_attempts(limit=2000)
        except Exception:  # noqa: BLE001 - an unreadable history only costs warm-up
            return
        self.latency.seed(rows)
        self.output_stats.seed(rows)
        calibrated = {name for name, p in self.runtime.providers.items() if p.calibrate_input_tokens}
        priced_as = {(r.provider, r.model): r.priced_as for r in self.runtime.routes}
        self.tokens.seed_calibration(
            (priced_as.get((r["provider"], r["model"]), r["model"]), r["estimate_raw_tokens"], r["input_tokens"])
            for r in rows
            if r.get("provider") in calibrated
            and r.get("status") == "ok"
            and r.get("estimate_raw_tokens")
            and r.get("input_tokens")
        )

    # --- public API ------------------------------------------------------------------

    def candidates(self) -> list[tuple[str, str]]:
        """The configured (provider, model) pairs, in configuration order."""
        return [(r.provider, r.model) for r in self.runtime.routes]

    def provider_modes(self) -> dict[str, str]:
        emulated = self.settings.emulated_providers() if self.emulators is not None else ()
        return {name: ("EMULATED" if name in emulated else "LIVE") for name in self.runtime.providers}

    # ``key`` says who a request runs as: an API key's name (trusted in-process callers), a
    # ``Principal`` from ``governance.authenticate`` (the REST API), or None: the anonymous
    # principal of the ``default`` team. ``source`` names the caller on refused requests.

    def generate(
        self,
        request: GenerateRequest,
        *,
        key=None,
        source: str = "python",
        trace_headers: Mapping[str, str] | None = None,
    ) -> GenerateResult:
        """Route and answer ``request`` as ``key``. ``trace_headers``: the HTTP headers of the
        request being served (the REST API passes them so an incoming ``traceparent`` continues)."""
        return pipeline.complete(self.runtime, request, self.new_request_id(), trace_headers, key=key, source=source)

    def stream(
        self,
        request: GenerateRequest,
        *,
        key=None,
        source: str = "python",
        trace_headers: Mapping[str, str] | None = None,
    ) -> GatewayStream:
        return GatewayStream(self.runtime, request, self.new_request_id(), trace_headers, key, source)

    def policy_input(self, request: GenerateRequest, *, key=None) -> dict:
        """The routing policy's ``input`` for ``request`` sent as ``key``, built as a real request
        would build it but sent nowhere (the console's dry run starts from it)."""
        return routing_policy.preview(self.runtime, request, key)

    def budget_statuses(self) -> list:
        """Where each budget stands, for the ``gateway.budget.remaining`` gauge."""
        return self.governance.budgets()

    def configured_providers(self) -> tuple[str, ...]:
        """Providers with at least one route, in registry order."""
        return tuple(dict.fromkeys(r.provider for r in self.runtime.routes))

    def compare(self, request: GenerateRequest, providers=None, *, key=None, source: str = "python") -> list:
        """Send the same request to each provider (default: every configured one) concurrently,
        without fallback. Returns one entry per provider, in order: a ``GenerateResult`` or the
        ``GatewayError``. Each is its own request under ``key``'s limits."""
        reqs = [self._pinned(request, p) for p in (providers or self.configured_providers())]

        def run(r):
            try:
                return self.generate(r, key=key, source=source)
            except GatewayError as e:
                return e

        with ThreadPoolExecutor(max_workers=len(reqs)) as pool:
            return list(pool.map(run, reqs))

    def compare_streams(
        self, request: GenerateRequest, providers=None, *, key=None, source: str = "python"
    ) -> list[GatewayStream]:
        return [self.stream(self._pinned(request, p), key=key, source=source) for p in (providers or self.configured_providers())]

    def provider_status(self) -> list[dict]:
        modes = self.provider_modes()
        out = []
        for r in self.runtime.routes:
            out.append(
                {
                    "provider": r.provider,
                    "model": r.model,
                    "mode": modes.get(r.provider, "LIVE"),
                    "breaker": self.breaker.state((r.provider, r.model)),
                    **self.latency.summary(r.provider, r.model),
                    "price_status": self.prices.status(r.provider, r.priced_as),
                    "region": r.region,
                }
            )
        return out

    def readiness(self) -> Readiness:
        """Whether to take traffic now, with every reason not to (``/readyz``)."""
        breakers = {f"{r.provider}/{r.model}": self.breaker.state((r.provider, r.model)) for r in self.runtime.routes}
        return readiness.evaluate(
            (
                lambda: readiness.usage_log_reason(self.usage_log.health()),
                lambda: readiness.providers_reason(breakers),
                *self._readiness_checks,
            )
        )

    def add_readiness_check(self, check: Callable[[], Reason | None]) -> None:
        """Another part's reason not to take traffic, e.g. its storage being unreachable."""
        self._readiness_checks.append(check)

    def log_rejected(
        self,
        error: ValidationError,
        *,
        user: str | None = None,
        source: str = "api",
        error_type: str | None = None,
        team: str | None = None,
        key_id: str | None = None,
    ) -> None:
        """Record a refused request in ``rejected_requests``: which field, where and whose, never the content."""
        self.usage_log.write_rejected(
            rejected_row(
                self.new_request_id(),
                error.field,
                error_type or error.type_name,
                source=source,
                user=user,
                team=team,
                key_id=key_id,
            )
        )

    def record_vote(
        self, compare_id: str, task: str, a: GenerateResult, b: GenerateResult, verdict: str, user: str | None = None
    ) -> None:
        if verdict not in VERDICTS:
            raise ValidationError("verdict", f"must be one of {', '.join(VERDICTS)}")
        self.usage_log.record_vote(compare_id=compare_id, task=task, a=a, b=b, verdict=verdict, user=user)
        if self.runtime.quality is not None:
            self.runtime.quality.invalidate()

    def close(self) -> None:
        self.usage_log.close()
        for p in self.runtime.providers.values():
            close = getattr(p, "close", None)
            if close:
                close()
        if self.emulators is not None:
            self.emulators.close()
            self.emulators = None
        self.telemetry.shutdown()  # its last collection still reads the budgets
        close_policy = getattr(self.policy, "close", None)
        if close_policy is not None:
            close_policy()  # an OPA engine's kept-alive connections
        self.governance.close()  # applies queued settles, then closes the store

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- helpers ---------------------------------------------------------------------

    def new_request_id(self) -> str:
        # The random module reseeds itself in a forked child, so ids stay unique across
        # workers; os.urandom and uuid4 cost a syscall each (~10-300 us in sandboxes).
        return f"req_{random.getrandbits(96):024x}"

    def scrub(self, text: str | None) -> str | None:
        """Mask configured secrets and credentials in text bound for the log or a user."""
        return scrub(text, self._secrets, limit=500)

    def _routes(self, providers: Mapping[str, object]) -> tuple[Route, ...]:
        """Every configured model of every built provider, in registry then configuration order."""
        out = []
        for name in PROVIDERS:
            if name in providers:
                own = self.settings.provider(name)
                out += [Route(name, m, own.priced_as(m), own.geography(m)) for m in own.model_ids()]
        return tuple(out)

    # --- helpers ---------------------------------------------------------------------

    def _pinned(self, request: GenerateRequest, provider: str) -> GenerateRequest:
        return replace(request, provider_hint=provider, fallback=False)
