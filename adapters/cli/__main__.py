"""`python -m warmcase_adapters.cli`: the same as the `warmcase` console script."""

from warmcase_adapters.cli.main import main

main()
