"""Entry point of ``python -m shared.devstack``."""

from shared.devstack.cli import main

raise SystemExit(main())
