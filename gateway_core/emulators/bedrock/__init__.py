"""The Bedrock runtime emulator: the model table (``models``), the Converse and InvokeModel wire
format (``wire``), the event-stream encoder (``eventstream``) and the HTTP handler (``handler``)."""
