"""One module per `harness` sub-command; registered lazily in `harness.cli.COMMANDS`."""
