"""wms-connector's rules: pure functions and types, no I/O."""

from wms_connector.domain.inbound import COMMAND_FOR, commands_for, shipment_of

__all__ = ["COMMAND_FOR", "commands_for", "shipment_of"]
