"""``python -m fleet_model``: the command line of ``fleet_model/command.py``."""

import sys

from fleet_model.command import main

sys.exit(main())
