"""The operator console: the Streamlit entry frame (``app.py``) and the UI helpers its pages share.

Nothing here is imported by ``gateway_core``; the console is a thin client of the library.
"""
