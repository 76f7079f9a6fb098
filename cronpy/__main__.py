"""``python -m cronpy``."""

from .cli import main

raise SystemExit(main())
