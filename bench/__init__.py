"""Benchmarks of the gateway, each against a baseline measured in the same run.

Run ``python -m bench --quick`` (``make bench``) or ``python -m bench --full``; pick some
with ``--only B1,B3``. Each benchmark is one module exposing ``ID``, ``NAME``, ``TITLE``,
``SIZES`` (per mode: smoke, quick, full), optionally ``MODES`` (the modes it runs in,
default all) and ``run(config) -> result dict``; results land in ``bench/results/<name>.json``.
"""
