"""`python -m reelscope.cli`."""
import sys

from reelscope.cli import app

sys.exit(app())
