"""mlops-ladder: five cookiecutter templates, one per MLOps maturity level, and the tools to
render, compare, upgrade and assess them (the `mlops-ladder` command, cli.py)."""

from importlib import metadata

try:
    __version__ = metadata.version("mlops-ladder")
except metadata.PackageNotFoundError:  # run from a clone's src/ without installing it
    __version__ = "0+unknown"
