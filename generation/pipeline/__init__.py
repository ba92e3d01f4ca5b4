"""The research-and-writing pipeline: one module per stage, run by `runner.execute_run`."""
