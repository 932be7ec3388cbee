"""The click command line: parses flags and cli.ini, calls a service, maps errors to exit codes."""
