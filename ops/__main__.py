import sys

from ops.cli import main

main(sys.argv[1:])
