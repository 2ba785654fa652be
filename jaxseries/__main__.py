import sys

from jaxseries.cli import main

sys.exit(main())
