"""``python -m cogsim`` runs the command line."""

import sys

from cogsim.cli import main

sys.exit(main())
