"""`python -m mlops_ladder` is the `mlops-ladder` command."""

from .cli import main

raise SystemExit(main())
