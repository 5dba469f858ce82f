"""The `rma` command line."""
