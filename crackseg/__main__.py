"""``python -m crackseg``: see ``crackseg.cli``."""

from __future__ import annotations

from crackseg.cli import main

raise SystemExit(main())
