"""Adapters: the outside world (database, policy files, and later carriers, gateways, e-mail) behind small interfaces."""
