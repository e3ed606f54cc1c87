"""The ``fairque`` command line (the only part of the core allowed to import click/rich)."""
