"""Use cases: each takes a unit of work (and providers), changes state only through the domain, and commits."""
