"""Embedded AWS: the synthesized stack deployed into moto, with the real handlers in-process."""
