"""python -m nk_jupyter -> the nk CLI."""
import sys

from .cli import main

sys.exit(main())
