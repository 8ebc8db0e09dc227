"""One module per `dqhw` subcommand: add_arguments(parser) and run(args)."""
