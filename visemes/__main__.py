import sys

from visemes.cli import main

sys.exit(main())
