"""Durable state: the SQLModel schema, migrations, repositories, the document update log and object storage. Imports no sibling package."""

__all__: list[str] = []
