import sys

from llmbench_jupyter.cli import main

sys.exit(main())
