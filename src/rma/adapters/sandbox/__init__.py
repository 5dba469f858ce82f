"""Sandbox providers: deterministic stand-ins for a carrier, a payment gateway and an e-mail service.

They keep their own records in their own tables (as the real services would on their side), honour idempotency keys
exactly as the real ones do, and are what the audit compares our records against.
"""
