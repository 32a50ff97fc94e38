# Personal data and credentials.
#
# - A prompt in which the masking detectors found personal data never goes to the
#   providers listed in no_pii_providers.
# - Card numbers are masked before any provider call, not only in the log.
# - A prompt carrying a credential (an API key, a secret or a JSON web token) is refused.
package gateway.routing

no_pii_providers := {"openai"}

credential_kinds := {"secret", "jwt"}

prompt_has_pii if count(input.request.pii) > 0

prompt_has_card if "card" in input.request.pii

prompt_has_credential if {
	some kind in input.request.pii
	kind in credential_kinds
}

exclude contains provider if {
	prompt_has_pii
	some provider in no_pii_providers
}

redact if prompt_has_card

deny contains "the prompt contains a credential (a key or a token); remove it and send again" if prompt_has_credential
