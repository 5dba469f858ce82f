"""Adapters: the outside world (database, policy files; later carriers, gateways, e-mail) behind small interfaces."""
