"""Shared pytest configuration: the storage_core plugin (blob conformance suite, moto fixtures)."""

pytest_plugins = ["storage_core.testing"]
