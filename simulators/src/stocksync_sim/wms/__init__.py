"""WMS simulator: emits signed warehouse events (receipt, adjustment, cycle count, shipment)."""
