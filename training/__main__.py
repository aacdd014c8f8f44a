"""`python -m training`: see training.cli."""

from training.cli import main

main()
