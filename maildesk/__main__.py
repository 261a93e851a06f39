"""`python -m maildesk` is the `maildesk` command."""

import sys

from maildesk.cli import main

sys.exit(main())
