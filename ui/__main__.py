"""`python -m ui`: the same as the `stepformer` command."""
import sys

from ui.cli import main

sys.exit(main())
