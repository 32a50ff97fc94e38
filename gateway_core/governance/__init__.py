"""Governance: who may call the gateway, what they may spend, and the policies that shape each route."""
