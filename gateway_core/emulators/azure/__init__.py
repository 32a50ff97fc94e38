"""The Azure OpenAI emulator: chat completions wire format (``wire``) and its HTTP handler (``handler``)."""
