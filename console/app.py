"""Entry frame of the operator console: page config, navigation, the shared status sidebar, and
the usage-log banner every page shows while the log is degraded.

Run with ``streamlit run console/app.py`` from the repository root or ``gateway console``.
The page scripts are found by ``console.launch.pages_dir`` (the repository's top-level
``pages/`` in a checkout, ``console/pages`` in an installed wheel), so the working directory
does not matter.
"""

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run console/app.py` puts only console/ on the path
    sys.path.insert(0, str(ROOT))

from console import auth, state, widgets  # noqa: E402
from console.launch import pages_dir  # noqa: E402

PAGES = pages_dir()

# A local file: an icon name would make the browser fetch the favicon from the internet.
st.set_page_config(
    page_title="GenAI Cloud Gateway", page_icon=str(Path(__file__).resolve().parent / "static" / "favicon.png"), layout="wide"
)

who = auth.gate()  # nobody signed in: the sign-in page alone
nav = st.navigation(
    auth.visible(
        {
            "Try": [
                st.Page(PAGES / "playground.py", title="Playground", icon=":material/chat:", default=True),
                st.Page(PAGES / "compare.py", title="Compare", icon=":material/compare:"),
            ],
            "Observe": [
                st.Page(PAGES / "analytics.py", title="Analytics", icon=":material/monitoring:"),
                st.Page(PAGES / "requests.py", title="Requests", icon=":material/receipt_long:"),
            ],
            "Operate": [
                st.Page(PAGES / "providers.py", title="Providers", icon=":material/dns:"),
                st.Page(PAGES / "governance.py", title="Governance", icon=":material/admin_panel_settings:"),
                st.Page(PAGES / "policies.py", title="Policies", icon=":material/policy:"),
            ],
        },
        who,
    )
)
gw = state.gateway()
auth.sidebar_identity(who)
widgets.status_sidebar(gw)
auth.open_banner(who)
widgets.log_banner(gw)
widgets.flash()
try:
    nav.run()
except Exception as e:  # noqa: BLE001 - last stop before the screen: one sentence, never a traceback
    widgets.show_error(e, gw)
