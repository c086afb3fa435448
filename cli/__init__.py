"""The keymask command line: one entry point, one subcommand per job."""
