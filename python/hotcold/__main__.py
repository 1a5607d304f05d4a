"""`python -m hotcold ...`: what the crontab line runs, independent of PATH."""

from .cli import main

main()
