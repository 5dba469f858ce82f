"""The interfaces the application depends on, and the plain records that cross them.

Services and adapters both point here; nothing here imports either. Providers (carrier, gateway, e-mail, clock, the
sandbox stand-ins for people) are apart from persistence (the return repository, one small store per concern, the
unit of work that holds them) and from messaging (follow-up steps, the publisher, the flow's hook at commit).
"""
