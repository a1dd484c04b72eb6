"""``python -m gateway_studio`` — same as the ``gateway-studio`` command."""

from gateway_studio.cli import main

raise SystemExit(main())
