"""The `hotcold` command: a thin typer layer over the library (app) and the rendering of its
reports for people (render)."""

from hotcold.cli.app import main

__all__ = ["main"]
