"""``python -m cronpy``."""

from cronpy.cli.main import main

raise SystemExit(main())
