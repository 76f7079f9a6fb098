"""One module per command (or small group of commands).

Each module opens nothing itself: it is handed a store, a state directory and ``now``,
calls the library, and returns a result object; ``cronpy.cli.render`` prints results, human or
JSON, and ``cronpy.cli.app`` wires both to the command line. Kept apart so that tests
drive commands with a store they populated and a fixed ``now``.
"""
