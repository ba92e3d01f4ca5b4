"""Loopback stand-ins for the services the site talks to (the LLM API, the web)."""
