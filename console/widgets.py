"""Shared Streamlit rendering: the status sidebar, result badges, attempts and friendly errors.

Pages call these so a result, a fallback or a failure looks the same wherever it appears.
Errors become one sentence naming the field or provider at fault; the text passes through
the gateway's ``scrub`` first, and no traceback ever reaches the page.
"""

from __future__ import annotations

import logging

import streamlit as st

from console import format as fmt
from console import policy_view
from gateway_core.db import describe
from gateway_core.errors import (
    AllProvidersFailed,
    ConfigError,
    ContentFiltered,
    GatewayError,
    PolicyDenied,
    ProviderError,
    StreamInterrupted,
    ValidationError,
)
from gateway_core.explain import route_sentence
from gateway_core.providers import PROVIDERS
from gateway_core.providers import label as provider_label

log = logging.getLogger("console")

__all__ = ["provider_label"]  # re-exported for the pages: labels come from the registry


def status_sidebar(gw) -> None:
    """Mode, a LIVE/EMULATED badge per provider, where the usage log lives, and whether
    telemetry is on and where it is sent."""
    with st.sidebar:
        st.caption(f"Mode **{gw.settings.mode}**")
        for provider, mode in gw.provider_modes().items():
            live = mode == "LIVE"
            st.badge(
                f"{provider_label(provider)} · {mode}",
                icon=":material/cloud_done:" if live else ":material/science:",
                color="green" if live else "gray",
            )
        st.caption(f"Usage log `{describe(gw.settings.database())}`")
        st.caption(fmt.telemetry_text(gw.telemetry.describe()))


def log_banner(gw) -> None:
    """While the usage log is not writing to its database, or has lost rows, say so above
    every page, with the counts; nothing at all while it is healthy."""
    h = gw.usage_log.health()
    if not h.degraded:
        return
    text = f"**Usage log degraded.** {h.summary()}"
    if h.state == "failing" or h.lost_total:
        st.error(text, icon=":material/report:")
    else:
        st.warning(text + " They will be written to the database when it recovers.", icon=":material/sync_problem:")


@st.fragment(run_every=1.0)
def mirror_progress(an) -> None:
    """A progress bar while analytics loads a large log in the background; redrawn every
    second, and the whole page rerun once the load is done so its charts appear."""
    progress = an.loading()
    if progress is None:
        st.rerun()
    st.progress(progress.fraction, text=progress.sentence())
    st.caption("The first start on a large usage log builds the analytics copy once; other pages work meanwhile.")


FLASH_KEY = "console_flash"


def flash(message: str | None = None) -> None:
    """With a message: keep it for the next run. Without: show what was kept, as a toast.

    An action that reruns the page (``st.rerun``) would lose a toast raised before the rerun;
    the entry frame calls ``flash()`` on every run, so the confirmation survives it."""
    if message is not None:
        st.session_state[FLASH_KEY] = message
        return
    pending = st.session_state.pop(FLASH_KEY, None)
    if pending:
        st.toast(pending, icon=":material/check_circle:")


def provider_badge(provider: str, model: str) -> None:
    st.badge(
        f"{provider_label(provider)} · {fmt.short_model(model)}",
        icon=":material/hub:",
        color=PROVIDERS[provider].color if provider in PROVIDERS else "gray",
    )


def result_meta(result, request=None) -> None:
    """The compact row under an answer: who answered, why, tokens, money and time.

    With the ``request`` the route reads as one plain sentence, the router's raw scores
    folded away under "Route details"; a fallback lists every attempt and why it failed."""
    with st.container(horizontal=True, vertical_alignment="center"):
        provider_badge(result.provider, result.model)
        if result.fallback_used:
            st.badge("fallback", icon=":material/alt_route:", color="red")
        if result.unpriced or result.cost_usd is None:
            st.badge("unpriced", icon=":material/money_off:", color="yellow")
    cf = ""
    if result.counterfactual_cost_usd is not None:
        other = provider_label(result.counterfactual_provider or "other provider")
        cf = f" · on {other}: {fmt.usd(result.counterfactual_cost_usd)}"
        saved = fmt.saving_text(result.cost_usd, result.counterfactual_cost_usd)
        cf += f" · {saved}" if saved else ""
    st.markdown(
        f"**Cost** {fmt.usd(result.cost_usd)} (est {fmt.usd(result.estimated_cost_usd)}){cf}  \n"
        f"**Latency** {fmt.ms(result.latency_ms)} · **TTFT** {fmt.ms(result.ttft_ms)} · "
        f"**Tokens** {fmt.tokens_text(result)}"
    )
    if request is not None and result.ranking is not None:
        st.caption(f":material/route: {route_sentence(request, result.ranking, result.provider, result.model)}")
        with st.expander("Route details", icon=":material/tune:"):
            st.code("\n".join(result.route_reason.split("; ")), language=None, wrap_lines=True)
    else:
        st.caption(f":material/route: {fmt.md_escape(result.route_reason)}")
    if result.policy is not None:
        st.caption(f":material/policy: {policy_view.answer_line(result.policy)}")
    if result.fallback_used or len(result.attempts) > 1:
        attempts_table(result.attempts)


def attempts_table(attempts) -> None:
    """Each attempt in a row, then every failure's reason in full (a table cell would cut it)."""
    st.dataframe(fmt.attempts_frame(attempts), hide_index=True, width="stretch")
    for line in fmt.failure_lines(attempts):
        st.caption(f":material/error: {fmt.md_escape(line)}")


def show_error(exc: BaseException, gw=None) -> None:
    """One clear sentence per failure kind; unexpected errors are logged, not printed.

    Provider messages are sanitised by the gateway already; ``gw.scrub`` runs again because
    this is the last stop before a screen."""

    def clean(text) -> str:
        return gw.scrub(str(text)) if gw is not None else str(text)

    if isinstance(exc, ValidationError):
        st.error(f"Invalid **{exc.field}**: {clean(exc.reason)}", icon=":material/edit_off:")
    elif isinstance(exc, ConfigError):
        st.error(f"Configuration problem in **{exc.variable}**: {clean(exc.message)}", icon=":material/settings_alert:")
    elif isinstance(exc, AllProvidersFailed):
        st.error(f"Every provider failed: {clean(exc.message)}", icon=":material/cloud_off:")
        if exc.attempts:
            attempts_table(exc.attempts)
    elif isinstance(exc, StreamInterrupted):
        st.warning(
            f"The {provider_label(exc.provider)} stream broke after part of the answer was sent; "
            f"the text above is incomplete. ({clean(exc.message)})",
            icon=":material/content_cut:",
        )
    elif isinstance(exc, ContentFiltered):
        st.error(
            f"{provider_label(exc.provider)} refused this content (content filter). Rephrase the prompt and try again.",
            icon=":material/block:",
        )
    elif isinstance(exc, ProviderError):
        status = f" (HTTP {exc.status})" if exc.status else ""
        st.error(
            f"{provider_label(exc.provider)} failed: {exc.type_name}{status}: {clean(exc.message)}",
            icon=":material/cloud_off:",
        )
    elif isinstance(exc, PolicyDenied):
        st.error(clean(policy_view.refusal_line(exc)), icon=":material/policy:")
    elif isinstance(exc, GatewayError):
        st.error(clean(exc.message), icon=":material/error:")
    else:
        log.exception("unexpected console error", exc_info=exc)
        st.error(f"Unexpected error ({type(exc).__name__}); the details are in the server log.", icon=":material/error:")


def vote_summary(frame) -> None:
    """Blind A/B results: win rate with its 95% interval and cost per win, per provider and task."""
    if frame.empty:
        st.caption("No votes yet. Run a comparison and vote to start the tally.")
        return
    shown = frame.assign(
        provider=frame["provider"].map(provider_label),
        interval=[f"{lo:.0%} – {hi:.0%}" for lo, hi in zip(frame["ci_low"], frame["ci_high"])],
    ).sort_values(["task", "provider"], key=lambda s: s.where(s != "all", ""))
    st.dataframe(
        shown[["provider", "task", "votes", "wins", "ties", "both_bad", "win_rate", "interval", "cost_per_win_usd"]],
        hide_index=True,
        width="stretch",
        column_config={
            "win_rate": st.column_config.ProgressColumn("win rate", format="percent", min_value=0, max_value=1),
            "interval": st.column_config.TextColumn("95% interval", help="Wilson score interval"),
            "cost_per_win_usd": st.column_config.NumberColumn("cost per win", format="$%.6f"),
            "both_bad": st.column_config.NumberColumn("both bad"),
        },
    )
