"""Package layout for setuptools; every other piece of metadata is in pyproject.toml.

The console's page scripts sit in the repository's top-level ``pages/`` directory (a fixed
part of the layout) but must travel inside the wheel, so they are installed as the
``console.pages`` package; ``console/launch.py`` finds them in either place.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["gateway_core", "gateway_core.*", "console", "console.*"]) + ["console.pages"],
    package_dir={"console.pages": "pages"},
)
