"""The facade: ``Gateway.generate`` / ``stream`` / ``compare`` over providers, router and log.

A ``Gateway`` owns one instance of each moving part: the provider adapters (or the
in-process emulators they point at), the price table, the token counter, the circuit
breaker, the latency and output-token statistics, and the background usage-log writer.
It is safe to share between threads; the console and the API keep one per process.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Iterator, Mapping

from . import executor
from .config import Settings
from .errors import GatewayError, ValidationError
from .planning import build_plan, pricing_model
from .pricing import PriceTable
from .redaction import protect
from .providers import PROVIDERS
from .router import CircuitBreaker, LatencyTracker, OutputTokenStats
from .tasks import TASKS
from .tokens import TokenCounter
from .types import PROVIDER_NAMES, GenerateRequest, GenerateResult
from .usage.writer import UsageLog, mask_content

# Placeholder credentials for the loopback emulators; they guard nothing.
_EMULATOR_KEY = "emulated-key"


class GatewayStream:
    """Iterate for text chunks; afterwards ``result`` holds the ``GenerateResult``.

    ``provider`` and ``model`` name the candidate being streamed from, as soon as its
    call starts (they change if the gateway falls back before the first token)."""

    def __init__(self, gateway: "Gateway", request: GenerateRequest):
        self._gateway = gateway
        self.request = request
        self.request_id = gateway.new_request_id()
        self.result: GenerateResult | None = None
        self.provider: str | None = None
        self.model: str | None = None
        self._started = False

    def __iter__(self) -> Iterator[str]:
        if self._started:
            raise RuntimeError("a GatewayStream can be iterated once")
        self._started = True
        plan = build_plan(self._gateway, self.request, streaming=True)
        self.result = yield from executor.execute(self._gateway, plan, self.request_id, self._on_attempt)

    def _on_attempt(self, candidate) -> None:
        self.provider, self.model = candidate.provider, candidate.model


class Gateway:
    def __init__(self, settings: Settings, *, providers: Mapping[str, object] | None = None, clock=time.monotonic, seed: int | None = None):
        self.settings = settings
        protect(settings.secrets())
        self.emulators = None
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self.prices = PriceTable.load(settings.prices_file)
        self.tokens = TokenCounter()
        self.breaker = CircuitBreaker(clock=clock)
        self.latency = LatencyTracker()
        self.output_stats = OutputTokenStats({name: spec.expected_output_tokens for name, spec in TASKS.items()})
        self.usage_log = UsageLog(settings.db_path)
        self._providers = dict(providers) if providers is not None else self._build_providers()
        self._secrets = settings.secrets()
        self._seed_from_log()
        # Load encodings now so the first request doesn't pay the ~0.2-0.8 s load.
        self.tokens.warm(self._priced_as(p, m) for p, m in self.candidates())

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, dotenv_path: str | None = ".env", **kw) -> "Gateway":
        return cls(Settings.from_env(env, dotenv_path), **kw)

    # --- construction ----------------------------------------------------------------

    def _build_providers(self) -> dict:
        s = self.settings
        emulated = s.emulated_providers()
        if emulated:
            from .emulators import start_emulators

            deployments = {d: s.azure_model_map.get(d, d) for d in s.azure_deployments}
            self.emulators = start_emulators(profile=s.emulator_profile, azure_deployments=deployments, providers=emulated)
        built = {}
        for name in PROVIDER_NAMES:
            cls = PROVIDERS[name]
            if name in emulated and name == "azure":
                built[name] = cls.from_settings(s, endpoint=self.emulators.azure.url, api_key=_EMULATOR_KEY)
            elif name in emulated:
                built[name] = cls.from_settings(
                    s, endpoint_url=self.emulators.bedrock.url, aws_access_key_id=_EMULATOR_KEY, aws_secret_access_key=_EMULATOR_KEY
                )
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
        self.tokens.seed_calibration(
            (r["model"], r["estimate_raw_tokens"], r["input_tokens"])
            for r in rows
            if r.get("provider") == "bedrock" and r.get("status") == "ok" and r.get("estimate_raw_tokens") and r.get("input_tokens")
        )

    # --- public API ------------------------------------------------------------------

    def candidates(self) -> list[tuple[str, str]]:
        s = self.settings
        out = [("azure", d) for d in s.azure_deployments if "azure" in self._providers]
        out += [("bedrock", m) for m in s.bedrock_model_ids if "bedrock" in self._providers]
        return out

    def provider_modes(self) -> dict[str, str]:
        emulated = self.settings.emulated_providers() if self.emulators is not None else ()
        return {name: ("EMULATED" if name in emulated else "LIVE") for name in self._providers}

    def generate(self, request: GenerateRequest) -> GenerateResult:
        plan = build_plan(self, request, streaming=False)
        gen = executor.execute(self, plan, self.new_request_id())
        while True:
            try:
                next(gen)
            except StopIteration as stop:
                return stop.value

    def stream(self, request: GenerateRequest) -> GatewayStream:
        return GatewayStream(self, request)

    def compare(self, request: GenerateRequest, providers=PROVIDER_NAMES) -> list:
        """Send the same request to each provider concurrently, without fallback.

        Returns one entry per provider, in order: a ``GenerateResult`` or the ``GatewayError``."""
        reqs = [self._pinned(request, p) for p in providers]

        def run(r):
            try:
                return self.generate(r)
            except GatewayError as e:
                return e

        with ThreadPoolExecutor(max_workers=len(reqs)) as pool:
            return list(pool.map(run, reqs))

    def compare_streams(self, request: GenerateRequest, providers=PROVIDER_NAMES) -> list[GatewayStream]:
        return [self.stream(self._pinned(request, p)) for p in providers]

    def provider_status(self) -> list[dict]:
        modes = self.provider_modes()
        out = []
        for provider, model in self.candidates():
            key = (provider, model)
            out.append(
                {
                    "provider": provider,
                    "model": model,
                    "mode": modes.get(provider, "LIVE"),
                    "breaker": self.breaker.state(key),
                    **self.latency.summary(provider, model),
                    "price_status": self.prices.status(provider, self._priced_as(provider, model)),
                }
            )
        return out

    def log_rejected(self, error: ValidationError, *, user: str | None = None, source: str = "api", error_type: str | None = None) -> None:
        """Record a rejected request: which field and where, never the content."""
        self.usage_log.write(
            {
                "request_id": self.new_request_id(),
                "attempt": 0,
                "final": 1,
                "user": user if isinstance(user, str) and user.isprintable() and len(user) <= 128 else None,
                "provider": None,
                "model": None,
                "status": "rejected",
                "error_type": error_type or error.type_name,
                "error_message": f"invalid {error.field} ({source})"[:200],
                "price_version": self.prices.version,
            }
        )

    def record_vote(self, compare_id: str, task: str, a: GenerateResult, b: GenerateResult, verdict: str, user: str | None = None) -> None:
        if verdict not in ("a", "b", "tie", "both_bad"):
            raise ValidationError("verdict", "must be one of a, b, tie, both_bad")
        self.usage_log.record_vote(compare_id=compare_id, task=task, a=a, b=b, verdict=verdict, user=user)

    def close(self) -> None:
        self.usage_log.close()
        for p in self._providers.values():
            close = getattr(p, "close", None)
            if close:
                close()
        if self.emulators is not None:
            self.emulators.close()
            self.emulators = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- used by the executor and planner ----------------------------------------------

    def provider(self, name: str):
        return self._providers[name]

    def random(self) -> float:
        with self._rng_lock:
            return self._rng.random()

    def new_request_id(self) -> str:
        # The random module reseeds itself in a forked child, so ids stay unique across
        # workers; os.urandom and uuid4 cost a syscall each (~10-300 us in sandboxes).
        return f"req_{random.getrandbits(96):024x}"

    def scrub(self, text: str | None) -> str | None:
        """Remove any configured secret from text bound for the log or a user."""
        if not text:
            return text
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "[redacted]")
        return text[:500]

    def record_failure(self, provider: str, model: str, err, latency_ms: float) -> None:
        # The breaker counts only retryable failures (a bad request says nothing about a
        # provider's health) but hears every outcome, so a half-open probe slot is freed.
        self.breaker.record((provider, model), err if err is not None else _Cancelled())
        if err is not None and err.retryable:
            self.latency.observe(provider, model, latency_ms, None, False)

    def record_success(self, plan, cand, completion, latency_ms: float, ttft_ms) -> None:
        self.breaker.record_success((cand.provider, cand.model))
        self.latency.observe(cand.provider, cand.model, latency_ms, ttft_ms if plan.streaming else None, True)
        self.output_stats.observe(plan.request.task, completion.usage.output_tokens)
        if cand.provider == "bedrock":
            est = plan.estimate_for(cand.provider, cand.model)
            self.tokens.observe(cand.provider, cand.model, est.raw_input_tokens, completion.usage.input_tokens)

    def attempt_row(self, plan, request_id: str, cand, attempt, *, result: GenerateResult | None = None) -> dict:
        req = plan.request
        est = plan.estimate_for(cand.provider, cand.model)
        usage = attempt.usage
        row = {  # no "ts": UsageLog.write stamps the time and the writer thread formats it
            "request_id": request_id,
            "attempt": None,  # numbered by write_rows
            "final": 0,  # the executor marks the request's last row
            "user": req.user,
            "task": req.task,
            "priority": req.priority,
            "provider_hint": req.provider_hint,
            "route_reason": plan.ranking.reason,
            "provider": cand.provider,
            "model": cand.model,
            "prompt_tokens_est": est.input_tokens,
            "completion_tokens_est": est.output_tokens,
            "total_tokens_est": est.input_tokens + est.output_tokens,
            "estimate_raw_tokens": est.raw_input_tokens,
            "cost_est_usd": executor.money(est.cost_usd),
            "input_tokens": usage.input_tokens if usage else None,
            "output_tokens": usage.output_tokens if usage else None,
            "cached_input_tokens": usage.cached_input_tokens if usage else None,
            "cost_usd": executor.money(attempt.cost_usd),
            "unpriced": 1 if (attempt.status == "ok" and attempt.cost_usd is None) else 0,
            "token_source": usage.source if usage else est.source,
            "latency_ms": attempt.latency_ms,
            "ttft_ms": attempt.ttft_ms,
            "streamed": 1 if attempt.streamed else 0,
            "status": attempt.status,
            "error_type": attempt.error_type,
            "error_message": attempt.error_message,
            "price_version": self.prices.version,
        }
        if result is not None:
            cf = (result.counterfactual_provider, result.counterfactual_model, result.counterfactual_cost_usd)
        else:
            cf = plan.counterfactual(cand.provider, est.output_tokens, self.prices)
        if cf and cf[0]:
            row.update(counterfactual_provider=cf[0], counterfactual_model=cf[1], counterfactual_cost_usd=executor.money(cf[2]))
        if self.settings.store_content:
            row["prompt_text"] = mask_content(req.prompt)
            if result is not None:
                row["response_text"] = mask_content(result.text)
        return row

    def write_rows(self, rows: list[dict]) -> None:
        for i, row in enumerate(rows, start=1):
            row["attempt"] = i
            self.usage_log.write(row)

    # --- helpers ---------------------------------------------------------------------

    def _pinned(self, request: GenerateRequest, provider: str) -> GenerateRequest:
        return replace(request, provider_hint=provider, fallback=False)

    def _priced_as(self, provider: str, model: str) -> str:
        return pricing_model(provider, model, self.settings.azure_model_map)


class _Cancelled(Exception):
    """The caller stopped reading: not the provider's fault, so not retryable."""

    retryable = False

