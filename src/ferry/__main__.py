"""`python -m ferry` is the `ferry` command."""

from __future__ import annotations

import sys

from ferry.cli.main import main

sys.exit(main())
