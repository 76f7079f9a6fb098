"""The typer side of each command: its arguments, options and help text, and the few lines
that turn them into one call of ``cronpy.cli.commands`` and one ``render``. ``cronpy.cli.app``
puts them on the command line."""
