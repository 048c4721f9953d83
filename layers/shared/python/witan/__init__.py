"""Witan domain package: schema checking, access policy, audit, models; AWS adapters at the edges."""
