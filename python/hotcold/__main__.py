"""`python -m hotcold ...`: what the crontab line runs, independent of PATH."""

from hotcold.cli.app import main

main()
