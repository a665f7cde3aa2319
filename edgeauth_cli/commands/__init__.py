"""One module per command group. Each defines ``register(subparsers) -> None``.

:func:`edgeauth_cli.main.build_parser` discovers every module in this package, so adding a command
group means adding a module here and nothing else.
"""
