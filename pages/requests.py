"""Requests: the searchable audit log, one line per request with its attempts on expansion, and the refusals."""

import math

import streamlit as st

from console import auth, state
from console import format as fmt
from console.filters import sidebar_filters

PAGE_SIZE = 25

who = auth.require("requests")
content = auth.can(who, "content")  # viewers see requests without their prompt and answer text
gw = state.gateway()
an = state.fresh_analytics()
st.title("Requests")

f, _ = sidebar_filters(an, "rq")
refused, refused_total = an.rejections(f)
sent, rejected = st.tabs(["Sent to a provider", f"Rejected ({refused_total:,})"])

with sent:
    search = st.text_input(
        "Search",
        key="rq_search",
        placeholder="request id, user, model, error type" + (" or stored prompt" if content else ""),
        icon=":material/search:",
    )
    page = int(st.session_state.get("rq_page", 1))
    frame, total = an.requests_page(f, search, page, PAGE_SIZE, content=content)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:  # the filters shrank the result under the current page
        page = st.session_state["rq_page"] = pages
        frame, total = an.requests_page(f, search, page, PAGE_SIZE, content=content)

    st.caption(f"{total:,} requests · page {page} of {pages} · newest first")
    if frame.empty:
        st.info("No request matches. Widen the time range or clear the search.", icon=":material/search_off:")

    for row in frame.to_dict("records"):
        icon = (
            ":material/alt_route:"
            if (row.get("attempts") or 1) > 1 and row["status"] == "ok"
            else fmt.STATUS_ICONS.get(row["status"])
        )
        box = st.expander(fmt.request_label(row), icon=icon, key=f"rq_open_{row['request_id']}", on_change="rerun")
        if not box.open:
            continue  # attempts are fetched only for opened requests
        with box:
            st.caption(f"Request `{row['request_id']}`" + (" · synthetic" if row.get("synthetic") else ""))
            detail = an.attempts_for(row["request_id"], content=content)
            st.dataframe(
                fmt.attempt_detail_frame(detail),
                hide_index=True,
                width="stretch",
                column_config={
                    "latency_ms": st.column_config.NumberColumn("latency", format="%.0f ms"),
                    "ttft_ms": st.column_config.NumberColumn("TTFT", format="%.0f ms"),
                    "cost_usd": st.column_config.NumberColumn("cost", format="$%.6f"),
                    "cost_est_usd": st.column_config.NumberColumn("estimate", format="$%.6f"),
                    "counterfactual_cost_usd": st.column_config.NumberColumn("counterfactual", format="$%.6f"),
                },
            )
            stored = detail[["prompt_text", "response_text"]].dropna(how="all")
            if not content:
                st.caption(":material/visibility_off: Prompt and answer text are shown to operators and admins.")
            elif stored.empty:
                st.caption(":material/visibility_off: Content is not stored (GATEWAY_STORE_CONTENT is off).")
            for text in stored["prompt_text"].dropna().unique():
                st.markdown(f"**Prompt (masked)**\n\n{text}")
            for text in stored["response_text"].dropna().unique():
                st.markdown(f"**Response (masked)**\n\n{text}")

    if pages > 1:
        st.number_input("Page", min_value=1, max_value=pages, key="rq_page", step=1)

with rejected:
    st.caption(
        "Requests refused before any provider was called: which field was wrong, where the request came from, "
        "and whose it was. Their content is never stored."
    )
    if refused.empty:
        st.info("No refused requests in this time range.", icon=":material/verified:")
    else:
        st.dataframe(
            refused,
            hide_index=True,
            width="stretch",
            column_config={
                "ts": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
                "error_type": st.column_config.TextColumn("error"),
                "key_id": st.column_config.TextColumn("key"),
                "request_id": st.column_config.TextColumn("request id"),
            },
        )
        if refused_total > len(refused):
            st.caption(f"The newest {len(refused):,} of {refused_total:,}.")
