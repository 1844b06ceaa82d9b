"""Simulated devices that speak only the protocol (HTTP and websockets), like firmware: no app imports."""
