"""Kafka Connect's typed errors: what a caller of resources.connect can catch."""

from resources.errors import ResourceError, Unreachable


class ConnectError(ResourceError):
    system = "Kafka Connect"


class ConnectorNotFound(ConnectError):
    pass


class ConnectorConfigInvalid(ConnectError):
    """400 on create/update: the worker's validation rejected the config."""


class ConnectUnreachable(Unreachable, ConnectError):
    pass
