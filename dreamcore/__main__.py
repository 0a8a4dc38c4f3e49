"""``python -m dreamcore``: the command line (what cron runs, with an absolute interpreter path)."""

import sys

from dreamcore.cli.root import main

sys.exit(main())
